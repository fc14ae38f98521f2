import type { UsageEvent } from "@sloughgpt/bus";
import { parseInstant, utcDay } from "./periods.js";
import { costPicos, formatMicros, formatPicos, type PriceTable } from "./pricing.js";

/** A usage event as the ledger stores it: validated, dated in UTC and priced. */
export interface LedgerRecord {
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
  status: UsageEvent["status"];
  /** RFC 3339, UTC. */
  finishedAt: string;
  /** The UTC day it finished, `YYYY-MM-DD`: the day it is billed to. */
  day: string;
  /** Decimal USD per 1M tokens as applied; undefined when the model has no price. */
  price: { input: string; cachedInput: string; output: string } | undefined;
  /** Exact decimal USD. */
  costUsd: string;
}

/** An event the ledger cannot store as it is; redelivering it would not help. */
export class InvalidUsageError extends Error {
  constructor(
    message: string,
    readonly reason: "finished_at" | "tokens",
  ) {
    super(message);
    this.name = "InvalidUsageError";
  }
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * Validates, dates and prices one event. A cached-token count above the prompt is clamped (an
 * engine's miscount must not lose a billable record); a missing price costs 0.
 */
export function toLedgerRecord(e: UsageEvent, prices: PriceTable): LedgerRecord {
  const finished = parseInstant(e.finishedAt);
  if (finished === undefined) {
    throw new InvalidUsageError(`finishedAt is not an RFC 3339 instant: ${e.finishedAt}`, "finished_at");
  }
  if (Math.max(e.promptTokens, e.completionTokens) > INT32_MAX) {
    throw new InvalidUsageError("token counts above 2^31 - 1", "tokens");
  }
  const cachedTokens = Math.min(e.cachedTokens, e.promptTokens);
  const p = prices.get(e.model);
  return {
    id: e.id,
    requestId: e.requestId,
    team: e.team,
    keyId: e.keyId,
    model: e.model,
    promptTokens: e.promptTokens,
    completionTokens: e.completionTokens,
    cachedTokens,
    cacheHit: e.cacheHit,
    latencyMs: e.latencyMs,
    status: e.status,
    finishedAt: new Date(finished).toISOString(),
    day: utcDay(finished),
    price: p && {
      input: formatMicros(p.input),
      cachedInput: formatMicros(p.cachedInput),
      output: formatMicros(p.output),
    },
    costUsd: formatPicos(p ? costPicos({ ...e, cachedTokens }, p) : 0n),
  };
}
