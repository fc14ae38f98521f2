import type { BudgetAlert } from "@sloughgpt/bus";
import { InvalidArgumentError, type Logger, ResourceExhaustedError } from "@sloughgpt/runtime";
import type { BudgetPeriod, Limits } from "../identity/types.js";
import {
  BudgetExceededError,
  type BudgetScope,
  budgetScopes,
  judgeBudgets,
  type ScopeSpend,
  trimUsd,
} from "./budget.js";
import type { Admission, AdmitRequest } from "./limiter.js";
import type { Scope, ScopeKind } from "./types.js";

/** Who a request counts against: the principal's fields the gate reads. */
export interface Caller {
  keyId: string;
  team: string;
  limits: Limits;
  teamLimits: Limits;
}

/** Reads the ledger's spend for a key and/or a team in the period containing now. */
export type SpendReader = (
  who: { keyId?: string; team?: string },
  period: BudgetPeriod,
) => Promise<Partial<Record<ScopeKind, ScopeSpend>>>;

export interface GateOptions {
  /** Rate limits; without it none are enforced. */
  limiter?: { admit(req: AdmitRequest): Promise<Admission> } | undefined;
  /** Budgets; without it none are enforced. */
  spend?: SpendReader | undefined;
  /** Raised once per scope, period and threshold (per replica; the bus dedupes across replicas). */
  alert?: ((alert: BudgetAlert) => Promise<void>) | undefined;
  logger: Logger;
  now?: () => number;
}

/** An admitted request: headers to send, and `settle` once its token count is known. */
export interface Ticket {
  headers: Record<string, string>;
  /** Corrects the token estimate; never throws, later calls do nothing. */
  settle(actualTokens: number): void;
}

/** A key's or team's rate limit refused the request: 429 with the limiter's headers. */
export class RateLimitExceededError extends ResourceExhaustedError {
  constructor(
    readonly headers: Record<string, string>,
    refused: Scope,
    limit: "requests" | "tokens",
    retryAfterSeconds: number,
  ) {
    const who = refused.kind === "key" ? "this API key" : `team '${refused.id}'`;
    const n = limit === "requests" ? refused.rpm : refused.tpm;
    const per = `${n} ${limit === "requests" ? "request" : "token"}${n === 1 ? "" : "s"}`;
    super(`Rate limit of ${per} per minute reached for ${who}; retry in ${retryAfterSeconds} s`, {
      reason: "rate_limit_exceeded",
    });
  }
}

/** The ticket of a request nothing counts: no headers, nothing to settle. */
export const NOOP_TICKET: Ticket = { headers: {}, settle: () => undefined };

/** One crossing's identity: whose budget, which period, which threshold (not when it was seen). */
export function budgetAlertId(a: BudgetAlert): string {
  return `budget.${a.scope}.${a.subject}.${a.period}.${a.periodStart}.${a.threshold}`;
}

/**
 * A request that alone may use more tokens than a minute allows would be refused in every window:
 * say so (400) instead of a 429 that clients retry in vain.
 */
function refuseTooLarge(scopes: readonly Scope[], tokens: number): void {
  const tight = scopes.find((s) => s.tpm !== undefined && tokens > s.tpm);
  if (!tight) return;
  const who = tight.kind === "key" ? "this API key" : `team '${tight.id}'`;
  throw new InvalidArgumentError(
    `This request may use up to ${tokens} tokens (prompt and max_tokens), more than the ${tight.tpm} ` +
      `tokens per minute allowed for ${who}; lower max_tokens or shorten the prompt`,
    { param: "max_tokens", reason: "request_too_large" },
  );
}
const MAX_REMEMBERED_ALERTS = 10_000;
const SPEND_RETRY_MS = 5_000;

function rateScopes(c: Caller): Scope[] {
  const scope = (kind: ScopeKind, id: string, l: Limits): Scope[] =>
    id && (l.rpm !== null || l.tpm !== null)
      ? [{ kind, id, rpm: l.rpm ?? undefined, tpm: l.tpm ?? undefined }]
      : [];
  return [...scope("key", c.keyId, c.limits), ...scope("team", c.team, c.teamLimits)];
}

/**
 * Admits a request that will use a model: budgets first (a spent budget refuses without counting
 * against a rate limit), then the shared rate limits. Budgets are read from the monitoring
 * ledger; if it cannot be read the request passes (budgets are soft limits, ADR 0006) and a
 * warning is logged.
 */
export class RequestGate {
  private readonly alerted = new Set<string>();
  /** After a failed spend read, budgets are not checked until then: an outage costs one timeout, not one per request. */
  private spendPausedUntil = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly opts: GateOptions) {
    this.now = opts.now ?? Date.now;
  }

  async admit(caller: Caller, estimatedTokens: number): Promise<Ticket> {
    await this.checkBudgets(caller);
    const scopes = rateScopes(caller);
    if (!this.opts.limiter || scopes.length === 0) return NOOP_TICKET;
    const tokens = Math.max(0, Math.ceil(estimatedTokens));
    refuseTooLarge(scopes, tokens);
    const a = await this.opts.limiter.admit({ scopes, estimatedTokens: tokens });
    if (!a.allowed) throw new RateLimitExceededError(a.headers, a.scope, a.limit, a.retryAfterSeconds);
    return {
      headers: a.headers,
      settle: (actual) => {
        a.settle(Math.max(0, Math.round(actual))).catch((err: unknown) =>
          this.opts.logger.warn({ err }, "Failed to settle a rate-limit reservation"),
        );
      },
    };
  }

  private async checkBudgets(caller: Caller): Promise<void> {
    const scopes = budgetScopes(caller);
    if (!this.opts.spend || scopes.length === 0 || this.now() < this.spendPausedUntil) return;
    let spends: Map<ScopeKind, ScopeSpend>;
    try {
      spends = await this.readSpend(caller, scopes);
    } catch (err) {
      this.spendPausedUntil = this.now() + SPEND_RETRY_MS;
      this.opts.logger.warn(
        { err, retryMs: SPEND_RETRY_MS },
        "Paused budget checks: spend could not be read from monitoring",
      );
      return;
    }
    const verdict = judgeBudgets(scopes, spends);
    for (const c of verdict.crossed) this.raise(caller.team, c.scope, c.spend, c.threshold);
    if (verdict.exhausted)
      throw new BudgetExceededError(verdict.exhausted.scope, verdict.exhausted.spend, this.now());
  }

  /** One ledger read per distinct period among the scopes (usually one). */
  private async readSpend(caller: Caller, scopes: BudgetScope[]): Promise<Map<ScopeKind, ScopeSpend>> {
    const periods = [...new Set(scopes.map((s) => s.period))];
    const reads = await Promise.all(
      periods.map(async (period) => {
        const inPeriod = scopes.filter((s) => s.period === period);
        const who = {
          ...(inPeriod.some((s) => s.kind === "key") ? { keyId: caller.keyId } : {}),
          ...(inPeriod.some((s) => s.kind === "team") ? { team: caller.team } : {}),
        };
        const got = await this.opts.spend!(who, period);
        return inPeriod.flatMap((s) => {
          const spend = got[s.kind];
          return spend ? [[s.kind, spend] as const] : [];
        });
      }),
    );
    return new Map(reads.flat());
  }

  private raise(team: string, scope: BudgetScope, spend: ScopeSpend, threshold: number): void {
    if (!this.opts.alert) return;
    const alert: BudgetAlert = {
      scope: scope.kind,
      subject: scope.id,
      team,
      threshold,
      budgetUsd: scope.budgetUsd,
      spentUsd: trimUsd(spend.spentUsd),
      period: scope.period,
      periodStart: spend.periodStart,
      at: new Date(this.now()).toISOString(),
    };
    const id = budgetAlertId(alert);
    if (this.alerted.has(id)) return;
    if (this.alerted.size >= MAX_REMEMBERED_ALERTS) this.alerted.clear();
    this.alerted.add(id);
    this.opts.alert(alert).catch((err: unknown) => {
      this.alerted.delete(id);
      this.opts.logger.warn({ err, alert: id }, "Failed to publish a budget alert");
    });
  }
}
