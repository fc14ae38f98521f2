import { ResourceExhaustedError } from "@sloughgpt/runtime";
import type { BudgetPeriod, Limits } from "../identity/types.js";
import type { ScopeKind } from "./types.js";

/** A budget to check for a request: whose, how much, over which period. */
export interface BudgetScope {
  kind: ScopeKind;
  /** The key id or the team name. */
  id: string;
  budgetUsd: number;
  period: BudgetPeriod;
}

/** What the ledger says a scope spent in the current period. */
export interface ScopeSpend {
  /** Exact decimal USD from the ledger. */
  spentUsd: string;
  periodStart: string;
  periodEnd: string;
}

/** The soft limit: an alert is raised once spend reaches this share of a budget. */
export const SOFT_LIMIT = 0.8;

/** The budgets a caller's request is held to: its key's and its team's, where set. */
export function budgetScopes(who: {
  keyId: string;
  team: string;
  limits: Limits;
  teamLimits: Limits;
}): BudgetScope[] {
  const scopes: BudgetScope[] = [];
  const add = (kind: ScopeKind, id: string, l: Limits) => {
    if (l.budgetUsd === null) return;
    scopes.push({ kind, id, budgetUsd: l.budgetUsd, period: l.budgetPeriod ?? "monthly" });
  };
  add("key", who.keyId, who.limits);
  add("team", who.team, who.teamLimits);
  return scopes;
}

export interface BudgetVerdict {
  /** The first scope whose spend has reached its budget: the request is refused. */
  exhausted: { scope: BudgetScope; spend: ScopeSpend } | undefined;
  /** Every threshold (SOFT_LIMIT, 1) each scope has reached, for alerting. */
  crossed: { scope: BudgetScope; spend: ScopeSpend; threshold: number }[];
}

/**
 * Decides from the ledger's spend. A budget of 0 refuses everything; spend equal to the budget
 * is exhausted (the next request would go over). Scopes without a reading are not judged.
 */
export function judgeBudgets(
  scopes: readonly BudgetScope[],
  spends: ReadonlyMap<ScopeKind, ScopeSpend>,
): BudgetVerdict {
  const verdict: BudgetVerdict = { exhausted: undefined, crossed: [] };
  for (const scope of scopes) {
    const spend = spends.get(scope.kind);
    if (!spend) continue;
    const spent = Number(spend.spentUsd);
    for (const threshold of [SOFT_LIMIT, 1]) {
      if (spent >= scope.budgetUsd * threshold) verdict.crossed.push({ scope, spend, threshold });
    }
    if (spent >= scope.budgetUsd) verdict.exhausted ??= { scope, spend };
  }
  return verdict;
}

/** A key's or team's budget is spent: OpenAI's 429 `insufficient_quota`. */
export class BudgetExceededError extends ResourceExhaustedError {
  readonly headers: Record<string, string>;

  constructor(scope: BudgetScope, spend: ScopeSpend, nowMs: number) {
    const who = scope.kind === "key" ? `this API key` : `team '${scope.id}'`;
    super(
      `The ${scope.period} budget of ${who} ($${scope.budgetUsd}) is spent ($${trimUsd(spend.spentUsd)} ` +
        `since ${spend.periodStart}); it renews at ${spend.periodEnd}`,
      { reason: "insufficient_quota" },
    );
    const untilRenewal = Math.ceil((Date.parse(spend.periodEnd) - nowMs) / 1000);
    this.headers = { "retry-after": String(Math.max(1, untilRenewal)) };
  }
}

/** `12.500000000000` → `12.50`: cents, or more digits when they matter. */
export function trimUsd(decimal: string): string {
  const [whole = "0", frac = ""] = decimal.split(".");
  const digits = frac.replace(/0+$/, "");
  return `${whole}.${digits.padEnd(2, "0")}`;
}
