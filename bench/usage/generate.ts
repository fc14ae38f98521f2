import type { UsageEvent } from "@sloughgpt/monitoring";

/** The synthetic tenant population: keys belong to teams, a few models, one without a price. */
export interface Population {
  teams: number;
  keys: number;
  models: readonly string[];
  /** First UTC day of the data, `YYYY-MM-DD`, and how many days it spans. */
  startDay: string;
  days: number;
}

export const BENCH_POPULATION: Population = {
  teams: 20,
  keys: 200,
  models: ["tiny-llama", "llama-3-8b", "llama-3-70b", "mistral-7b", "qwen-2-7b", "unpriced-model"],
  startDay: "2025-03-01",
  days: 35,
};

/** USD per 1M tokens for every model but the last. */
export const BENCH_PRICES = {
  "tiny-llama": { input: 0.01, output: 0.02 },
  "llama-3-8b": { input: 0.15, output: 0.6, cachedInput: 0.075 },
  "llama-3-70b": { input: 2.5, output: 10, cachedInput: 1.25 },
  "mistral-7b": { input: 0.2, output: 0.6 },
  "qwen-2-7b": { input: 0.2, output: 0.8, cachedInput: 0.05 },
};

/** Seeded PRNG (mulberry32): the same records every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Events `from` .. `from + count - 1` of a run of `total`, in the order they finish (as the ledger
 * receives them, so raw rows lie in time order on disk); ids are unique across calls.
 */
export function generateEvents(
  p: Population,
  run: { from: number; count: number; total: number },
  seed = 1,
): UsageEvent[] {
  const { from, count, total } = run;
  const rand = rng(seed + from);
  const start = Date.parse(`${p.startDay}T00:00:00Z`);
  const step = (p.days * 86_400_000) / total;
  return Array.from({ length: count }, (_, i) => {
    const key = Math.floor(rand() * p.keys);
    const prompt = 20 + Math.floor(rand() * 2000);
    const r = rand();
    return {
      id: `bench-${from + i}`,
      model: p.models[Math.floor(rand() * p.models.length)] as string,
      keyId: `key-${key}`,
      team: `team-${key % p.teams}`,
      requestId: `req-${from + i}`,
      promptTokens: prompt,
      completionTokens: Math.floor(rand() * 800),
      cachedTokens: r < 0.3 ? Math.floor(rand() * prompt) : 0,
      cacheHit: r > 0.95,
      latencyMs: Math.round(rand() * 20_000) / 10,
      status: r < 0.02 ? "error" : r < 0.05 ? "cancelled" : "ok",
      finishedAt: new Date(start + Math.floor((from + i + rand()) * step)).toISOString(),
    };
  });
}
