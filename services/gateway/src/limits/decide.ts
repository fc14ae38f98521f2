import type { LimitName, Scope, Usage } from "./types.js";

export type Limits = Pick<Scope, "rpm" | "tpm">;

/** A change to one counter; a batch of them is decided against one stored value. */
export type Op =
  /** Applied only if it fits every limit. */
  | { type: "reserve"; cost: Usage; limits: Limits }
  /** Decided like a reserve; changes nothing. */
  | { type: "check"; cost: Usage; limits: Limits }
  /** Always applied (roll-backs, settling), never taking a count below zero. */
  | { type: "adjust"; delta: Usage };

/** `usage` is the counter after the op when admitted, before it when refused. */
export type Verdict = { ok: true; usage: Usage } | { ok: false; usage: Usage; limit: LimitName };

/**
 * The limit a request of `cost` would break. A tpm is broken by going over it, and also by asking
 * anything of a scope that has none left, so a request that estimates 0 tokens still stops at tpm.
 */
export function exceeded(usage: Usage, cost: Usage, limits: Limits): LimitName | undefined {
  if (limits.rpm !== undefined && usage.requests + cost.requests > limits.rpm) return "requests";
  const { tpm } = limits;
  if (tpm !== undefined && (usage.tokens + cost.tokens > tpm || usage.tokens >= tpm)) return "tokens";
  return undefined;
}

/** Decides `ops` in order against `start`: one verdict per op, and the value to store. */
export function applyBatch(start: Usage, ops: readonly Op[]): { end: Usage; verdicts: Verdict[] } {
  let usage = start;
  const verdicts = ops.map((op): Verdict => {
    if (op.type === "adjust") {
      usage = {
        requests: Math.max(0, usage.requests + op.delta.requests),
        tokens: Math.max(0, usage.tokens + op.delta.tokens),
      };
      return { ok: true, usage };
    }
    const limit = exceeded(usage, op.cost, op.limits);
    if (limit) return { ok: false, usage, limit };
    if (op.type === "reserve") usage = add(usage, op.cost);
    return { ok: true, usage: op.type === "reserve" ? usage : add(usage, op.cost) };
  });
  return { end: usage, verdicts };
}

export const sameUsage = (a: Usage, b: Usage): boolean => a.requests === b.requests && a.tokens === b.tokens;

export const add = (a: Usage, b: Usage): Usage => ({
  requests: a.requests + b.requests,
  tokens: a.tokens + b.tokens,
});
