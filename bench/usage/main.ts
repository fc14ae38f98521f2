// Usage reports from the ledger's daily rollups against the same reports over raw records, in one
// run on a fresh Postgres database: `node --import tsx bench/usage/main.ts [--records N] [--rounds N]`.
import { parseArgs } from "node:util";
import { type Db, migrate, openDatabase } from "@sloughgpt/db";
import {
  type GroupBy,
  migrations,
  parsePriceTable,
  queryUsage,
  recordUsage,
  toLedgerRecord,
} from "@sloughgpt/monitoring";
import { createTestDatabase, DEFAULT_ADMIN_URL } from "@sloughgpt/testing";
import { BENCH_POPULATION, BENCH_PRICES, generateEvents } from "./generate.js";
import { formatTable, ratioLine, type Series, summarize } from "./report.js";

const BATCH = 5000;
const HEADLINE = ["team", "key", "model"] as const;
const RAW_COLUMN: Record<(typeof HEADLINE)[number], string> = { team: "team", key: "key_id", model: "model" };

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** Fills the ledger through the service's own ingest statement (insert + rollups), batch by batch. */
async function fill(db: Db, records: number, signal: AbortSignal): Promise<number> {
  const prices = parsePriceTable(BENCH_PRICES, "bench prices");
  const t0 = performance.now();
  for (let from = 0; from < records; from += BATCH) {
    signal.throwIfAborted();
    const events = generateEvents(BENCH_POPULATION, {
      from,
      count: Math.min(BATCH, records - from),
      total: records,
    });
    await recordUsage(
      db,
      events.map((e) => toLedgerRecord(e, prices)),
    );
    if ((from / BATCH) % 40 === 39) log(`  stored ${from + BATCH} records`);
  }
  return (performance.now() - t0) / 1000;
}

/** The baseline: the same report straight from raw records (what the ledger had before rollups). */
function rawReport(db: Db, column: string, fromMs: number, toMs: number) {
  return db.query(
    `SELECT ${column}, count(*)::text AS requests, sum(prompt_tokens)::text AS prompt_tokens,
       sum(completion_tokens)::text AS completion_tokens, sum(cost_usd)::text AS cost_usd
     FROM monitoring.usage_events WHERE finished_at >= $1 AND finished_at < $2
     GROUP BY ${column} ORDER BY ${column}`,
    [new Date(fromMs).toISOString(), new Date(toMs).toISOString()],
  );
}

async function timed(fn: () => Promise<{ rows: unknown[] }>): Promise<{ ms: number; rows: number }> {
  const t0 = performance.now();
  const res = await fn();
  return { ms: performance.now() - t0, rows: res.rows.length };
}

interface Shape {
  query: string;
  group: (typeof HEADLINE)[number];
  fromMs: number;
  toMs: number;
}

/** Interleaves sources and shapes round by round, so drift on a shared machine hits all alike. */
async function measure(db: Db, shapes: Shape[], rounds: number, signal: AbortSignal): Promise<Series[]> {
  const series = new Map<string, Series>();
  const add = (query: string, source: Series["source"], t: { ms: number; rows: number }) => {
    const s = series.get(`${query}/${source}`) ?? { query, source, rows: t.rows, ms: [] };
    s.ms.push(t.ms);
    series.set(`${query}/${source}`, s);
  };
  for (let round = -2; round < rounds; round++) {
    signal.throwIfAborted();
    for (const s of shapes) {
      const q = { groupBy: [s.group] as GroupBy[], fromMs: s.fromMs, toMs: s.toMs, limit: 10_000 };
      const report = await timed(() => queryUsage(db, q));
      const raw = await timed(() => rawReport(db, RAW_COLUMN[s.group], s.fromMs, s.toMs));
      if (round < 0) continue; // warm-up: caches and plans
      add(s.query, "rollups", report);
      add(s.query, "raw", raw);
    }
  }
  return [...series.values()];
}

/** The reports must agree with the baseline before their timings mean anything. */
async function checkAgreement(db: Db, fromMs: number, toMs: number): Promise<void> {
  for (const group of HEADLINE) {
    const report = await queryUsage(db, { groupBy: [group], fromMs, toMs, limit: 10_000 });
    const raw = await rawReport(db, RAW_COLUMN[group], fromMs, toMs);
    const a = report.rows.map((r) => [r.requests, r.promptTokens, r.completionTokens, r.costUsd].join("/"));
    const b = raw.rows.map((r) =>
      [r.requests, r.prompt_tokens, r.completion_tokens, r.cost_usd].map((v) => String(v)).join("/"),
    );
    if (a.join("\n") !== b.join("\n")) throw new Error(`rollup and raw reports by ${group} disagree`);
  }
}

async function counts(db: Db): Promise<{ raw: number; rollups: number }> {
  const { rows } = await db.query<{ raw: string; rollups: string }>(
    `SELECT (SELECT count(*) FROM monitoring.usage_events)::text AS raw,
       (SELECT count(*) FROM monitoring.usage_daily)::text AS rollups`,
  );
  return { raw: Number(rows[0]?.raw), rollups: Number(rows[0]?.rollups) };
}

async function run(records: number, rounds: number, adminUrl: string, signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  const database = await createTestDatabase(adminUrl);
  const db = await openDatabase({ url: database.url, maxConnections: 2 });
  try {
    await migrate(db, "monitoring", migrations);
    log(`Filling a fresh database with ${records} usage records through the ingest statement`);
    const fillSeconds = await fill(db, records, signal);
    // Both sources get fresh statistics and a set visibility map (index-only scans for the baseline).
    for (const table of ["usage_events", "usage_daily"]) await db.exec(`VACUUM ANALYZE monitoring.${table}`);
    const c = await counts(db);

    // The 30 most recent whole days of the data, and the same with partial days at both ends.
    const toMs =
      Date.parse(`${BENCH_POPULATION.startDay}T00:00:00Z`) + (BENCH_POPULATION.days - 2) * 86_400_000;
    const fromMs = toMs - 30 * 86_400_000;
    const halfDay = 43_200_000;
    await checkAgreement(db, fromMs, toMs);
    const shapes: Shape[] = [
      ...HEADLINE.map((group) => ({ query: group, group, fromMs, toMs })),
      { query: "team, RFC 3339 ends", group: "team", fromMs: fromMs + halfDay, toMs: toMs + halfDay },
    ];
    log(`Timing ${shapes.length} report shapes × 2 sources × ${rounds} rounds (after 2 warm-up rounds)`);
    const series = await measure(db, shapes, rounds, signal);

    const first = new Date(fromMs).toISOString().slice(0, 10);
    const last = new Date(toMs - 1).toISOString().slice(0, 10);
    console.log(
      `${c.raw} records over ${BENCH_POPULATION.days} days (${BENCH_POPULATION.teams} teams, ` +
        `${BENCH_POPULATION.keys} keys, ${BENCH_POPULATION.models.length} models) in ${c.rollups} daily rollup rows; ` +
        `stored through the ingest statement in batches of ${BATCH} in ${fillSeconds.toFixed(1)} s ` +
        `(${Math.round(records / fillSeconds)} records/s). Reports over ${first}..${last}, ${rounds} rounds; ` +
        `"RFC 3339 ends" starts and ends at noon, so two half days come from raw records.\n`,
    );
    console.log(`${formatTable(summarize(series))}\n`);
    log(`Finished in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    console.log(ratioLine(series, HEADLINE));
  } finally {
    await db.close();
    await database.drop();
  }
}

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "1000000" },
    rounds: { type: "string", default: "15" },
    "admin-url": { type: "string", default: DEFAULT_ADMIN_URL },
  },
});
const records = Number(values.records);
const rounds = Number(values.rounds);
if (!Number.isInteger(records) || records < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(
    "usage: node --import tsx bench/usage/main.ts [--records N] [--rounds N] [--admin-url postgres://…]",
  );
  process.exitCode = 2;
} else {
  // Ctrl-C stops at the next batch or round, so the database is still dropped.
  const ctl = new AbortController();
  process.once("SIGINT", () => ctl.abort(new Error("interrupted")));
  try {
    await run(records, rounds, values["admin-url"] as string, ctl.signal);
  } catch (err) {
    if (!ctl.signal.aborted) throw err;
    console.error("Interrupted; dropped the benchmark database");
    process.exitCode = 130;
  }
}
