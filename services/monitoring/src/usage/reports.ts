import type { Queryable } from "@sloughgpt/db";
import { periodBounds, type SpendPeriod, splitRange, utcDay } from "./periods.js";

export type GroupBy = "team" | "key" | "model" | "day";

const GROUP_COLUMNS: Record<GroupBy, string> = { team: "team", key: "key_id", model: "model", day: "day" };

export interface UsageFilter {
  team?: string | undefined;
  keyId?: string | undefined;
  model?: string | undefined;
}

export interface UsageQuery extends UsageFilter {
  groupBy: GroupBy[];
  /** [fromMs, toMs), epoch ms. */
  fromMs: number;
  toMs: number;
  limit: number;
}

export interface UsageRow {
  team?: string;
  keyId?: string;
  model?: string;
  day?: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheHits: number;
  errorRequests: number;
  cancelledRequests: number;
  unpricedRequests: number;
  /** Exact decimal USD. */
  costUsd: string;
}

/** The measures of a rollup row, and the same per raw record, in one column order. */
const MEASURES = [
  "requests",
  "error_requests",
  "cancelled_requests",
  "cache_hits",
  "unpriced_requests",
  "prompt_tokens",
  "completion_tokens",
  "cached_tokens",
  "cost_usd",
] as const;
const RAW_MEASURES = [
  "1",
  "(status = 'error')::int",
  "(status = 'cancelled')::int",
  "cache_hit::int",
  "(price_output IS NULL)::int",
  "prompt_tokens",
  "completion_tokens",
  "cached_tokens",
  "cost_usd",
];

/** Adds `col = $n` for each set filter; `params` grows with the values. */
function filterSql(f: UsageFilter, params: unknown[]): string {
  const parts: string[] = [];
  for (const [col, v] of [
    ["team", f.team],
    ["key_id", f.keyId],
    ["model", f.model],
  ] as const) {
    if (v === undefined) continue;
    params.push(v);
    parts.push(`AND ${col} = $${params.length}`);
  }
  return parts.join(" ");
}

/**
 * The report as SQL: whole days from `usage_daily`, partial edge days from raw records, summed per
 * group. Pure: the statement a report runs can be inspected (EXPLAIN) without running it.
 */
export function usageReportSql(q: UsageQuery): { sql: string; params: unknown[] } {
  const plan = splitRange(q.fromMs, q.toMs);
  const params: unknown[] = [];
  const sources: string[] = [];
  if (plan.days) {
    params.push(plan.days.from, plan.days.to);
    sources.push(
      `SELECT day, team, key_id, model, ${MEASURES.join(", ")} FROM monitoring.usage_daily
       WHERE day >= $1::date AND day < $2::date ${filterSql(q, params)}`,
    );
  }
  if (plan.raw.length > 0) {
    const spans = plan.raw.map((r) => {
      params.push(new Date(r.from).toISOString(), new Date(r.to).toISOString());
      return `(finished_at >= $${params.length - 1}::timestamptz AND finished_at < $${params.length}::timestamptz)`;
    });
    sources.push(
      `SELECT day, team, key_id, model, ${RAW_MEASURES.map((m, i) => `${m} AS ${MEASURES[i]}`).join(", ")}
       FROM monitoring.usage_events WHERE (${spans.join(" OR ")}) ${filterSql(q, params)}`,
    );
  }
  const groups = q.groupBy.map((g) => GROUP_COLUMNS[g]);
  const selectGroups = groups.map((c) => (c === "day" ? "day::text AS day" : c));
  const sums = MEASURES.map((m) =>
    m === "cost_usd"
      ? "coalesce(sum(cost_usd), 0)::numeric(30,12)::text AS cost_usd"
      : `coalesce(sum(${m}), 0)::text AS ${m}`,
  );
  const from =
    sources.length > 0 ? sources.join(" UNION ALL ") : `SELECT * FROM monitoring.usage_daily WHERE false`;
  params.push(q.limit + 1);
  const sql = `SELECT ${[...selectGroups, ...sums].join(", ")} FROM (${from}) u
    ${groups.length > 0 ? `GROUP BY ${groups.join(", ")} ORDER BY ${groups.join(", ")}` : ""}
    LIMIT $${params.length}`;
  return { sql, params };
}

type Text<T extends string> = Record<T, string>;
type MeasureRow = Text<(typeof MEASURES)[number]> & Partial<Text<"team" | "key_id" | "model" | "day">>;

function toUsageRow(r: MeasureRow): UsageRow {
  const row: UsageRow = {
    requests: Number(r.requests),
    promptTokens: Number(r.prompt_tokens),
    completionTokens: Number(r.completion_tokens),
    cachedTokens: Number(r.cached_tokens),
    cacheHits: Number(r.cache_hits),
    errorRequests: Number(r.error_requests),
    cancelledRequests: Number(r.cancelled_requests),
    unpricedRequests: Number(r.unpriced_requests),
    costUsd: r.cost_usd,
  };
  if (r.team !== undefined) row.team = r.team;
  if (r.key_id !== undefined) row.keyId = r.key_id;
  if (r.model !== undefined) row.model = r.model;
  if (r.day !== undefined) row.day = r.day;
  return row;
}

/** Usage over [from, to) per group, exact to the instant; `truncated` when more than `limit` groups matched. */
export async function queryUsage(
  db: Queryable,
  q: UsageQuery,
): Promise<{ rows: UsageRow[]; truncated: boolean }> {
  const { sql, params } = usageReportSql(q);
  const { rows } = await db.query<MeasureRow>(sql, params);
  return { rows: rows.slice(0, q.limit).map(toUsageRow), truncated: rows.length > q.limit };
}

export interface UsageRecordRow {
  id: string;
  requestId: string;
  team: string;
  keyId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheHit: boolean;
  latencyMs: number;
  status: string;
  finishedAt: string;
  costUsd: string;
  priceInput: string;
  priceCachedInput: string;
  priceOutput: string;
}

/** Position after the last row of a page: records by (finished_at, id), rollups by their key. */
export type Cursor = { kind: "records"; after: [string, string] } | { kind: "daily"; after: string[] };

export interface PageQuery extends UsageFilter {
  fromMs: number;
  toMs: number;
  pageSize: number;
  after?: Cursor["after"] | undefined;
}

/** One page of raw records in [from, to), after `after`. Each page is one short query: no cursor held open. */
export async function recordsPage(db: Queryable, q: PageQuery): Promise<UsageRecordRow[]> {
  const params: unknown[] = [new Date(q.fromMs).toISOString(), new Date(q.toMs).toISOString()];
  let after = "";
  if (q.after) {
    params.push(q.after[0], q.after[1]);
    after = `AND (finished_at, id) > ($3::timestamptz, $4)`;
  }
  const where = `finished_at >= $1::timestamptz AND finished_at < $2::timestamptz ${after} ${filterSql(q, params)}`;
  params.push(q.pageSize);
  const { rows } = await db.query<Record<string, string | number | boolean | null>>(
    `SELECT id, request_id, team, key_id, model, prompt_tokens, completion_tokens, cached_tokens, cache_hit,
       latency_ms, status, to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS finished_at,
       cost_usd::text AS cost_usd, coalesce(price_input::text, '') AS price_input,
       coalesce(price_cached_input::text, '') AS price_cached_input, coalesce(price_output::text, '') AS price_output
     FROM monitoring.usage_events WHERE ${where} ORDER BY finished_at, id LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    id: String(r.id),
    requestId: String(r.request_id),
    team: String(r.team),
    keyId: String(r.key_id),
    model: String(r.model),
    promptTokens: Number(r.prompt_tokens),
    completionTokens: Number(r.completion_tokens),
    cachedTokens: Number(r.cached_tokens),
    cacheHit: r.cache_hit === true,
    latencyMs: Number(r.latency_ms),
    status: String(r.status),
    finishedAt: String(r.finished_at),
    costUsd: String(r.cost_usd),
    priceInput: String(r.price_input),
    priceCachedInput: String(r.price_cached_input),
    priceOutput: String(r.price_output),
  }));
}

/** One page of daily rollup rows for whole days [from, to), after `after` = [day, team, key_id, model]. */
export async function dailyPage(db: Queryable, q: PageQuery): Promise<UsageRow[]> {
  const params: unknown[] = [utcDay(q.fromMs), utcDay(q.toMs)];
  let after = "";
  if (q.after) {
    params.push(...q.after);
    after = `AND (day, team, key_id, model) > ($3::date, $4, $5, $6)`;
  }
  const where = `day >= $1::date AND day < $2::date ${after} ${filterSql(q, params)}`;
  params.push(q.pageSize);
  const { rows } = await db.query<MeasureRow>(
    `SELECT day::text AS day, team, key_id, model,
       ${MEASURES.map((m) => `${m}::text AS ${m}`).join(", ")}
     FROM monitoring.usage_daily WHERE ${where} ORDER BY day, team, key_id, model LIMIT $${params.length}`,
    params,
  );
  return rows.map(toUsageRow);
}

export interface Spend {
  costUsd: string;
  requests: number;
  /** 0 when nothing was spent in the period. */
  updatedUnixMs: number;
}

export interface SpendReport {
  key?: Spend;
  team?: Spend;
  periodStartMs: number;
  periodEndMs: number;
}

const NO_SPEND: Spend = { costUsd: "0.000000000000", requests: 0, updatedUnixMs: 0 };

/** Spend of a key and a team in the period containing `atMs`: at most two primary-key lookups. */
export async function getSpend(
  db: Queryable,
  q: { keyId?: string | undefined; team?: string | undefined; period: SpendPeriod; atMs: number },
): Promise<SpendReport> {
  const { start, end } = periodBounds(q.period, q.atMs);
  const wanted = [
    ["key", q.keyId],
    ["team", q.team],
  ].filter((w): w is [string, string] => w[1] !== undefined);
  const params: unknown[] = [q.period === "daily" ? "day" : "month", utcDay(start)];
  const lookups = wanted.map(([scope, subject]) => {
    params.push(scope, subject);
    return `SELECT scope, cost_usd::text AS cost_usd, requests::text AS requests,
        (extract(epoch FROM updated_at) * 1000)::bigint::text AS updated_ms
      FROM monitoring.usage_spend
      WHERE scope = $${params.length - 1} AND subject = $${params.length} AND period = $1 AND period_start = $2::date`;
  });
  const { rows } =
    lookups.length === 0
      ? { rows: [] }
      : await db.query<{ scope: string; cost_usd: string; requests: string; updated_ms: string }>(
          lookups.join(" UNION ALL "),
          params,
        );
  const found = new Map(
    rows.map((r) => [
      r.scope,
      { costUsd: r.cost_usd, requests: Number(r.requests), updatedUnixMs: Number(r.updated_ms) },
    ]),
  );
  const report: SpendReport = { periodStartMs: start, periodEndMs: end };
  if (q.keyId !== undefined) report.key = found.get("key") ?? NO_SPEND;
  if (q.team !== undefined) report.team = found.get("team") ?? NO_SPEND;
  return report;
}
