import type { UsageEvent } from "@sloughgpt/bus";
import type { Db, Migration } from "@sloughgpt/db";

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
];

/** Idempotent on the event id: a redelivered event is stored once. Returns whether it was new. */
export async function recordUsage(db: Db, e: UsageEvent): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO monitoring.usage_events
       (id, model, key_id, request_id, prompt_tokens, completion_tokens, latency_ms, status, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [
      e.id,
      e.model,
      e.keyId,
      e.requestId,
      e.promptTokens,
      e.completionTokens,
      e.latencyMs,
      e.status,
      e.finishedAt,
    ],
  );
  return rows.length === 1;
}

export async function usageTotals(
  db: Db,
): Promise<{ requests: number; promptTokens: number; completionTokens: number }> {
  const { rows } = await db.query<{ requests: string; prompt: string | null; completion: string | null }>(
    `SELECT count(*)::text AS requests, sum(prompt_tokens)::text AS prompt, sum(completion_tokens)::text AS completion
       FROM monitoring.usage_events`,
  );
  const r = rows[0];
  return {
    requests: Number(r?.requests ?? 0),
    promptTokens: Number(r?.prompt ?? 0),
    completionTokens: Number(r?.completion ?? 0),
  };
}
