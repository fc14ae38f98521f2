/** The sum of a Prometheus counter's samples whose labels include `labels`, from the text exposition format. */
export function counterSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

export const RESPONSE_CACHE_COUNTER = "sloughgpt_serving_response_cache_requests_total";

export interface CacheCounts {
  hits: number;
  misses: number;
}

/** Response-cache hits and misses (every tier) from a serving process's /metrics text. */
export function cacheCounts(metricsText: string): CacheCounts {
  return {
    hits: counterSum(metricsText, RESPONSE_CACHE_COUNTER, { result: "hit" }),
    misses: counterSum(metricsText, RESPONSE_CACHE_COUNTER, { result: "miss" }),
  };
}

/**
 * Every timed request was answered from serving's response cache exactly once: one hit each and no
 * miss, on every path alike (they all end at the same serving process).
 */
export function cacheCheck(
  timed: number,
  before: CacheCounts,
  after: CacheCounts,
): { ok: boolean; line: string } {
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  const ok = misses === 0 && hits === timed;
  return {
    ok,
    line:
      `cache check${ok ? "" : " FAILED"}: ${timed} timed requests, serving answered ${hits} from its ` +
      `response cache and missed ${misses}`,
  };
}
