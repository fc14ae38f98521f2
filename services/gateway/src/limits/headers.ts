import type { LimitName, Scope, Usage } from "./types.js";
import { formatDuration } from "./window.js";

/** A scope and its counter as the decision saw it (this request included when admitted). */
export interface ScopeUsage {
  scope: Scope;
  usage: Usage;
}

const limitOf = (scope: Scope, limit: LimitName) => (limit === "requests" ? scope.rpm : scope.tpm);
const usedOf = (usage: Usage, limit: LimitName) => (limit === "requests" ? usage.requests : usage.tokens);

/** What is left of `limit` in a scope; undefined when the scope sets no such limit. */
export function remaining(s: ScopeUsage, limit: LimitName): number | undefined {
  const max = limitOf(s.scope, limit);
  return max === undefined ? undefined : Math.max(0, max - usedOf(s.usage, limit));
}

/** The scope with the least of `limit` left (the first of equals); undefined if none sets it. */
export function mostConstraining(states: readonly ScopeUsage[], limit: LimitName): ScopeUsage | undefined {
  let best: { s: ScopeUsage; left: number } | undefined;
  for (const s of states) {
    const left = remaining(s, limit);
    if (left !== undefined && (best === undefined || left < best.left)) best = { s, left };
  }
  return best?.s;
}

/**
 * OpenAI's rate-limit headers. Requests and tokens each describe the scope with the least of that
 * kind left, so a client sees the limit it will hit first; a kind no scope limits is left out.
 */
export function rateLimitHeaders(states: readonly ScopeUsage[], resetMs: number): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const limit of ["requests", "tokens"] as const) {
    const s = mostConstraining(states, limit);
    if (!s) continue;
    headers[`x-ratelimit-limit-${limit}`] = String(limitOf(s.scope, limit));
    headers[`x-ratelimit-remaining-${limit}`] = String(remaining(s, limit));
    headers[`x-ratelimit-reset-${limit}`] = formatDuration(resetMs);
  }
  return headers;
}
