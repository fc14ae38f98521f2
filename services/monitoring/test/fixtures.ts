import type { UsageEvent } from "@sloughgpt/bus";
import { type Db, migrate, openDatabase } from "@sloughgpt/db";
import { createTestDatabase } from "@sloughgpt/testing";
import { costPicos, formatPicos, type PriceTable, parsePriceTable } from "../src/usage/pricing.js";
import type { GroupBy } from "../src/usage/reports.js";
import { migrations } from "../src/usage/store.js";

export const PRICES: PriceTable = parsePriceTable(
  {
    small: { input: 0.15, output: 0.6, cachedInput: 0.075 },
    large: { input: "2.5", output: 10 },
  },
  "test",
);

/** Seeded PRNG (mulberry32): the same events every run. */
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
 * `n` events spread over `days` UTC days from `start`: 3 teams, 6 keys (each in one team), a
 * priced small and large model and an unpriced one, every status, some cache hits.
 */
export function makeEvents(
  n: number,
  opts: { seed?: number; start?: string; days?: number } = {},
): UsageEvent[] {
  const rand = rng(opts.seed ?? 1);
  const start = Date.parse(opts.start ?? "2024-05-01T00:00:00Z");
  const span = (opts.days ?? 10) * 86_400_000;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const key = pick(["k0", "k1", "k2", "k3", "k4", "k5"] as const);
    const prompt = Math.floor(rand() * 4000);
    return {
      id: `ev-${opts.seed ?? 1}-${i}`,
      model: pick(["small", "small", "large", "unpriced"] as const),
      keyId: key,
      team: `team-${Number(key.slice(1)) % 3}`,
      requestId: `req-${i}`,
      promptTokens: prompt,
      completionTokens: Math.floor(rand() * 1000),
      cachedTokens: rand() < 0.3 ? Math.floor(rand() * prompt) : 0,
      cacheHit: rand() < 0.1,
      latencyMs: Math.round(rand() * 5000) / 10,
      status: pick(["ok", "ok", "ok", "error", "cancelled"] as const),
      finishedAt: new Date(start + Math.floor(rand() * span)).toISOString(),
    };
  });
}

export interface Expected {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheHits: number;
  errorRequests: number;
  cancelledRequests: number;
  unpricedRequests: number;
  costUsd: string;
}

const GROUP_OF: Record<GroupBy, (e: UsageEvent) => string> = {
  team: (e) => e.team,
  key: (e) => e.keyId,
  model: (e) => e.model,
  day: (e) => e.finishedAt.slice(0, 10),
};

type Filter = { groupBy: GroupBy[]; fromMs: number; toMs: number; team?: string; keyId?: string };

function matches(e: UsageEvent, q: Filter): boolean {
  const t = Date.parse(e.finishedAt);
  return (
    t >= q.fromMs &&
    t < q.toMs &&
    (q.team === undefined || e.team === q.team) &&
    (q.keyId === undefined || e.keyId === q.keyId)
  );
}

const ZERO = {
  requests: 0,
  promptTokens: 0,
  completionTokens: 0,
  cachedTokens: 0,
  cacheHits: 0,
  errorRequests: 0,
  cancelledRequests: 0,
  unpricedRequests: 0,
  picos: 0n,
};

function add(a: typeof ZERO, e: UsageEvent): typeof ZERO {
  const cached = Math.min(e.cachedTokens, e.promptTokens);
  const price = PRICES.get(e.model);
  return {
    requests: a.requests + 1,
    promptTokens: a.promptTokens + e.promptTokens,
    completionTokens: a.completionTokens + e.completionTokens,
    cachedTokens: a.cachedTokens + cached,
    cacheHits: a.cacheHits + Number(e.cacheHit),
    errorRequests: a.errorRequests + Number(e.status === "error"),
    cancelledRequests: a.cancelledRequests + Number(e.status === "cancelled"),
    unpricedRequests: a.unpricedRequests + Number(!price),
    picos: a.picos + (price ? costPicos({ ...e, cachedTokens: cached }, price) : 0n),
  };
}

/** The ground truth a report must equal, computed from the events in TypeScript. */
export function expectedReport(events: UsageEvent[], q: Filter): Map<string, Expected> {
  const acc = new Map<string, typeof ZERO>();
  for (const e of events.filter((x) => matches(x, q))) {
    const k = q.groupBy.map((g) => GROUP_OF[g](e)).join("|");
    acc.set(k, add(acc.get(k) ?? ZERO, e));
  }
  return new Map([...acc].map(([k, { picos, ...a }]) => [k, { ...a, costUsd: formatPicos(picos) }] as const));
}

export interface TestDb {
  db: Db;
  close(): Promise<void>;
}

/** A migrated ledger on a fresh Postgres database or in-memory PGlite. */
export async function openTestDb(kind: "postgres" | "pglite"): Promise<TestDb> {
  const server = kind === "postgres" ? await createTestDatabase() : undefined;
  const db = await openDatabase({ url: server?.url, maxConnections: 4 });
  await migrate(db, "monitoring", migrations);
  return {
    db,
    close: async () => {
      await db.close();
      await server?.drop();
    },
  };
}

export const DB_KINDS = ["postgres", "pglite"] as const;
