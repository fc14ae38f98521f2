import type { Db, Migration, Queryable } from "@sloughgpt/db";
import type { LedgerRecord } from "./record.js";

export const migrations: Migration[] = [
  {
    id: "0001_usage_events",
    sql: `CREATE TABLE monitoring.usage_events (
      id text PRIMARY KEY,
      model text NOT NULL,
      key_id text NOT NULL,
      request_id text NOT NULL,
      prompt_tokens integer NOT NULL,
      completion_tokens integer NOT NULL,
      latency_ms double precision NOT NULL,
      status text NOT NULL,
      finished_at timestamptz NOT NULL
    );`,
  },
  {
    // The ledger: priced records plus two rollups kept in the same statement as each insert.
    // Records stored before this migration have no price (cost 0); the rollups start from them.
    id: "0002_usage_ledger",
    sql: `ALTER TABLE monitoring.usage_events
        ADD COLUMN team text NOT NULL DEFAULT '',
        ADD COLUMN cached_tokens integer NOT NULL DEFAULT 0,
        ADD COLUMN cache_hit boolean NOT NULL DEFAULT false,
        ADD COLUMN day date,
        ADD COLUMN price_input numeric(21,6),
        ADD COLUMN price_cached_input numeric(21,6),
        ADD COLUMN price_output numeric(21,6),
        ADD COLUMN cost_usd numeric(30,12) NOT NULL DEFAULT 0,
        ADD COLUMN ingested_at timestamptz NOT NULL DEFAULT now();
      UPDATE monitoring.usage_events SET day = (finished_at AT TIME ZONE 'UTC')::date;
      ALTER TABLE monitoring.usage_events ALTER COLUMN day SET NOT NULL;
      CREATE INDEX usage_events_finished_at ON monitoring.usage_events (finished_at, id);

      CREATE TABLE monitoring.usage_daily (
        day date NOT NULL,
        team text NOT NULL,
        key_id text NOT NULL,
        model text NOT NULL,
        requests bigint NOT NULL,
        error_requests bigint NOT NULL,
        cancelled_requests bigint NOT NULL,
        cache_hits bigint NOT NULL,
        unpriced_requests bigint NOT NULL,
        prompt_tokens bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        cached_tokens bigint NOT NULL,
        cost_usd numeric(30,12) NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (day, team, key_id, model)
      );
      INSERT INTO monitoring.usage_daily
        SELECT day, team, key_id, model, count(*), count(*) FILTER (WHERE status = 'error'),
          count(*) FILTER (WHERE status = 'cancelled'), count(*) FILTER (WHERE cache_hit),
          count(*) FILTER (WHERE price_output IS NULL), sum(prompt_tokens), sum(completion_tokens),
          sum(cached_tokens), sum(cost_usd), now()
        FROM monitoring.usage_events GROUP BY day, team, key_id, model;

      -- Spend per key and per team per UTC day and month: what a budget check reads by primary key.
      CREATE TABLE monitoring.usage_spend (
        scope text NOT NULL CHECK (scope IN ('key', 'team')),
        subject text NOT NULL,
        period text NOT NULL CHECK (period IN ('day', 'month')),
        period_start date NOT NULL,
        requests bigint NOT NULL,
        cost_usd numeric(30,12) NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (scope, subject, period, period_start)
      );
      INSERT INTO monitoring.usage_spend
        SELECT p.scope, p.subject, p.period, p.period_start, count(*), sum(e.cost_usd), now()
        FROM monitoring.usage_events e CROSS JOIN LATERAL (VALUES
          ('key', e.key_id, 'day', e.day),
          ('key', e.key_id, 'month', date_trunc('month', e.day::timestamp)::date),
          ('team', e.team, 'day', e.day),
          ('team', e.team, 'month', date_trunc('month', e.day::timestamp)::date)
        ) AS p(scope, subject, period, period_start)
        GROUP BY 1, 2, 3, 4;`,
  },
  {
    // Budget alerts seen, one row per crossing: a repeat (another replica, a restart) is not new.
    id: "0003_budget_alerts",
    sql: `CREATE TABLE monitoring.budget_alerts (
      scope text NOT NULL,
      subject text NOT NULL,
      period text NOT NULL,
      period_start text NOT NULL,
      threshold numeric NOT NULL,
      team text NOT NULL,
      budget_usd numeric NOT NULL,
      spent_usd numeric NOT NULL,
      first_seen timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (scope, subject, period, period_start, threshold)
    );`,
  },
];

/**
 * One statement, so one transaction: insert the records that are new (ON CONFLICT on the id) and
 * add exactly those to the daily and spend rollups. Rows are ordered by key in every step, so
 * concurrent batches (replicas) lock rollup rows in the same order and cannot deadlock.
 */
const INGEST_SQL = `
WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
    id text, request_id text, team text, key_id text, model text,
    prompt_tokens integer, completion_tokens integer, cached_tokens integer, cache_hit boolean,
    latency_ms double precision, status text, finished_at timestamptz, day date,
    price_input numeric, price_cached_input numeric, price_output numeric, cost_usd numeric)
), inserted AS (
  INSERT INTO monitoring.usage_events (id, request_id, team, key_id, model, prompt_tokens,
    completion_tokens, cached_tokens, cache_hit, latency_ms, status, finished_at, day,
    price_input, price_cached_input, price_output, cost_usd)
  SELECT id, request_id, team, key_id, model, prompt_tokens, completion_tokens, cached_tokens,
    cache_hit, latency_ms, status, finished_at, day, price_input, price_cached_input, price_output,
    cost_usd
  FROM input ORDER BY id
  ON CONFLICT (id) DO NOTHING
  RETURNING id, day, team, key_id, model, status, cache_hit, prompt_tokens, completion_tokens,
    cached_tokens, cost_usd, price_output IS NULL AS unpriced
), daily AS (
  INSERT INTO monitoring.usage_daily AS d
  SELECT day, team, key_id, model, count(*), count(*) FILTER (WHERE status = 'error'),
    count(*) FILTER (WHERE status = 'cancelled'), count(*) FILTER (WHERE cache_hit),
    count(*) FILTER (WHERE unpriced), sum(prompt_tokens), sum(completion_tokens),
    sum(cached_tokens), sum(cost_usd), now()
  FROM inserted GROUP BY day, team, key_id, model ORDER BY day, team, key_id, model
  ON CONFLICT (day, team, key_id, model) DO UPDATE SET
    requests = d.requests + excluded.requests,
    error_requests = d.error_requests + excluded.error_requests,
    cancelled_requests = d.cancelled_requests + excluded.cancelled_requests,
    cache_hits = d.cache_hits + excluded.cache_hits,
    unpriced_requests = d.unpriced_requests + excluded.unpriced_requests,
    prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
    completion_tokens = d.completion_tokens + excluded.completion_tokens,
    cached_tokens = d.cached_tokens + excluded.cached_tokens,
    cost_usd = d.cost_usd + excluded.cost_usd,
    updated_at = excluded.updated_at
), spend AS (
  INSERT INTO monitoring.usage_spend AS s
  SELECT p.scope, p.subject, p.period, p.period_start, count(*), sum(m.cost_usd), now()
  FROM inserted m CROSS JOIN LATERAL (VALUES
    ('key', m.key_id, 'day', m.day), ('key', m.key_id, 'month', date_trunc('month', m.day::timestamp)::date),
    ('team', m.team, 'day', m.day), ('team', m.team, 'month', date_trunc('month', m.day::timestamp)::date)
  ) AS p(scope, subject, period, period_start)
  GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (scope, subject, period, period_start) DO UPDATE SET
    requests = s.requests + excluded.requests,
    cost_usd = s.cost_usd + excluded.cost_usd,
    updated_at = excluded.updated_at
)
SELECT id FROM inserted`;

function toRow(r: LedgerRecord) {
  return {
    id: r.id,
    request_id: r.requestId,
    team: r.team,
    key_id: r.keyId,
    model: r.model,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    cached_tokens: r.cachedTokens,
    cache_hit: r.cacheHit,
    latency_ms: r.latencyMs,
    status: r.status,
    finished_at: r.finishedAt,
    day: r.day,
    price_input: r.price?.input ?? null,
    price_cached_input: r.price?.cachedInput ?? null,
    price_output: r.price?.output ?? null,
    cost_usd: r.costUsd,
  };
}

/**
 * Stores records idempotently on their id and updates the rollups for the new ones only, all in
 * one transaction: a redelivered or duplicated record changes nothing. Returns the new records.
 */
export async function recordUsage(db: Queryable, records: LedgerRecord[]): Promise<LedgerRecord[]> {
  if (records.length === 0) return [];
  // Within a batch the first copy of an id wins, as the database keeps the first one stored.
  const seen = new Set<string>();
  const unique = records.filter((r) => !seen.has(r.id) && seen.add(r.id));
  const { rows } = await db.query<{ id: string }>(INGEST_SQL, [JSON.stringify(unique.map(toRow))]);
  const fresh = new Set(rows.map((r) => r.id));
  return unique.filter((r) => fresh.has(r.id));
}

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: string;
}

/** All-time totals, from the daily rollups (a few rows per key and day, not one per request). */
export async function usageTotals(db: Db | Queryable): Promise<UsageTotals> {
  const { rows } = await db.query<{ requests: string; prompt: string; completion: string; cost: string }>(
    `SELECT coalesce(sum(requests), 0)::text AS requests, coalesce(sum(prompt_tokens), 0)::text AS prompt,
       coalesce(sum(completion_tokens), 0)::text AS completion,
       coalesce(sum(cost_usd), 0)::numeric(30,12)::text AS cost
     FROM monitoring.usage_daily`,
  );
  const r = rows[0];
  return {
    requests: Number(r?.requests ?? 0),
    promptTokens: Number(r?.prompt ?? 0),
    completionTokens: Number(r?.completion ?? 0),
    costUsd: r?.cost ?? "0.000000000000",
  };
}
