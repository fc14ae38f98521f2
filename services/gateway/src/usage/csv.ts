import type { monitoring } from "@sloughgpt/proto";

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export function csvField(value: string | number | boolean): string {
  const s = String(value);
  // A leading = + - @ makes spreadsheets evaluate the cell; key names and models come from callers.
  const safe = /^[=+\-@\t\r]/.test(s) && typeof value === "string" ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export const csvLine = (fields: readonly (string | number | boolean)[]): string =>
  `${fields.map(csvField).join(",")}\r\n`;

export const RECORD_COLUMNS = [
  "id",
  "request_id",
  "finished_at",
  "team",
  "key_id",
  "model",
  "status",
  "prompt_tokens",
  "completion_tokens",
  "cached_tokens",
  "cache_hit",
  "latency_ms",
  "cost_usd",
  "price_input",
  "price_cached_input",
  "price_output",
] as const;

export const DAILY_COLUMNS = [
  "day",
  "team",
  "key_id",
  "model",
  "requests",
  "prompt_tokens",
  "completion_tokens",
  "cached_tokens",
  "cache_hits",
  "error_requests",
  "cancelled_requests",
  "unpriced_requests",
  "cost_usd",
] as const;

export function recordLine(r: monitoring.UsageRecord): string {
  return csvLine([
    r.id,
    r.requestId,
    r.finishedAt,
    r.team,
    r.keyId,
    r.model,
    r.status,
    r.promptTokens,
    r.completionTokens,
    r.cachedTokens,
    r.cacheHit,
    r.latencyMs,
    r.costUsd,
    r.priceInput,
    r.priceCachedInput,
    r.priceOutput,
  ]);
}

export function dailyLine(r: monitoring.UsageRow): string {
  return csvLine([
    r.day,
    r.team,
    r.keyId,
    r.model,
    r.requests,
    r.promptTokens,
    r.completionTokens,
    r.cachedTokens,
    r.cacheHits,
    r.errorRequests,
    r.cancelledRequests,
    r.unpricedRequests,
    r.costUsd,
  ]);
}
