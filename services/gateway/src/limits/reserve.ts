import type { Logger } from "@sloughgpt/runtime";
import type { Counters } from "./counters.js";
import type { Op, Verdict } from "./decide.js";
import type { ScopeUsage } from "./headers.js";
import type { LimitName, Scope, Usage } from "./types.js";
import type { Window } from "./window.js";

/** One request's claim on every scope that limits it, in one window. */
export interface Claim {
  scopes: readonly Scope[];
  estimatedTokens: number;
  window: Window;
}

export type Outcome =
  | { ok: true; states: ScopeUsage[] }
  | { ok: false; states: ScopeUsage[]; refused: Scope; limit: LimitName };

/** A counter per scope and window: `<kind>.<base64url id>.<window id>`, always a valid KV key. */
export function counterKey(scope: Pick<Scope, "kind" | "id">, windowId: number): string {
  return `${scope.kind}.${Buffer.from(scope.id, "utf8").toString("base64url")}.${windowId}`;
}

/** What a request costs a scope: one request, and its estimate only where tokens are limited. */
export function costFor(scope: Scope, estimatedTokens: number): Usage {
  return { requests: 1, tokens: scope.tpm === undefined ? 0 : estimatedTokens };
}

/**
 * Admits a request only if every scope admits it, and takes nothing from any scope when one refuses.
 *
 * The scopes are reserved in parallel, each by compare-and-set on its own counter; if one refuses,
 * the others' reservations are rolled back. No scope can therefore go over its limit. The price of
 * having no multi-key transaction: between a reservation and its roll-back (one round trip), another
 * request may see that scope one fuller than it ends up, and be refused. A scope already seen to be
 * exhausted is confirmed with a read first, so the usual refusal reserves (and rolls back) nothing.
 * Throws if a counter cannot be reached, after rolling back what it reserved.
 */
export async function reserveAll(counters: Counters, claim: Claim, logger: Logger): Promise<Outcome> {
  const keys = claim.scopes.map((s) => counterKey(s, claim.window.id));
  const ops = claim.scopes.map(
    (s) => ({ type: "reserve", cost: costFor(s, claim.estimatedTokens), limits: s }) as const,
  );
  const expected = await confirmExpectedRefusal(counters, claim, keys, ops);
  if (expected) return expected;

  const results = await Promise.allSettled(ops.map((op, i) => counters.apply(keys[i]!, claim.window.id, op)));
  const verdicts = results.map((r) => (r.status === "fulfilled" ? r.value : undefined));
  const refusedAt = verdicts.findIndex((v) => v?.ok === false);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (refusedAt < 0 && !failure) {
    return { ok: true, states: claim.scopes.map((s, i) => stateOf(s, verdicts[i]!)) };
  }
  await rollBack(counters, claim, keys, verdicts, logger);
  if (failure) throw failure.reason;
  const states = claim.scopes.flatMap((s, i) => {
    const v = verdicts[i];
    // A reservation that was rolled back no longer counts.
    return v ? [{ scope: s, usage: v.ok ? minus(v.usage, costFor(s, claim.estimatedTokens)) : v.usage }] : [];
  });
  return { ok: false, states, ...refusal(claim.scopes[refusedAt]!, verdicts[refusedAt]!) };
}

/** Reads the first scope this process last saw exhausted; the refusal, if the stored value agrees. */
async function confirmExpectedRefusal(
  counters: Counters,
  claim: Claim,
  keys: string[],
  ops: readonly (Op & { type: "reserve" })[],
): Promise<Outcome | undefined> {
  const i = ops.findIndex((op, j) => counters.predictsRefusal(keys[j]!, op));
  if (i < 0) return undefined;
  const scope = claim.scopes[i]!;
  const check = await counters.apply(keys[i]!, claim.window.id, { ...ops[i]!, type: "check" });
  return check.ok ? undefined : { ok: false, states: [stateOf(scope, check)], ...refusal(scope, check) };
}

/**
 * Returns what the admitted scopes reserved. A roll-back that fails leaves its counter higher than
 * it should be until the window ends: it may refuse a request too many, never admit one.
 */
async function rollBack(
  counters: Counters,
  claim: Claim,
  keys: string[],
  verdicts: (Verdict | undefined)[],
  logger: Logger,
): Promise<void> {
  const results = await Promise.allSettled(
    claim.scopes.flatMap((s, i) =>
      verdicts[i]?.ok
        ? [
            counters.apply(keys[i]!, claim.window.id, {
              type: "adjust",
              delta: negate(costFor(s, claim.estimatedTokens)),
            }),
          ]
        : [],
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    logger.warn(
      { err: failed.reason, window: claim.window.id },
      "Failed to roll back a refused request's reservation",
    );
  }
}

function refusal(scope: Scope, v: Verdict): { refused: Scope; limit: LimitName } {
  return { refused: scope, limit: v.ok ? "requests" : v.limit };
}

const stateOf = (scope: Scope, v: Verdict): ScopeUsage => ({ scope, usage: v.usage });
const negate = (u: Usage): Usage => ({ requests: -u.requests, tokens: -u.tokens });
const minus = (a: Usage, b: Usage): Usage => ({
  requests: a.requests - b.requests,
  tokens: a.tokens - b.tokens,
});
