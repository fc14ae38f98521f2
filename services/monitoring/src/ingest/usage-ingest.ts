import { type UsageEvent, usageEvent } from "@sloughgpt/bus";
import type { Queryable } from "@sloughgpt/db";
import { Counter, Gauge, Histogram, type Logger, type Metrics } from "@sloughgpt/runtime";
import type { PriceTable } from "../usage/pricing.js";
import { InvalidUsageError, type LedgerRecord, toLedgerRecord } from "../usage/record.js";
import { recordUsage } from "../usage/store.js";

/** What this replica's consumer last saw: how fresh the ledger (and so GetSpend) is. */
export interface IngestState {
  /** Events still waiting in JetStream at the last batch; 0 means caught up then. */
  backlogEvents: number;
  /** When the last batch committed; 0 before the first. */
  ingestedUnixMs: number;
}

const MAX_WARNED_MODELS = 1000;

function ingestMetrics(metrics: Metrics) {
  const registers = [metrics.registry];
  return {
    stored: new Counter({
      name: "sloughgpt_usage_events_total",
      help: "Usage records stored, by model and status.",
      labelNames: ["model", "status"] as const,
      registers,
    }),
    duplicates: new Counter({
      name: "sloughgpt_usage_duplicates_total",
      help: "Usage events already in the ledger (redeliveries, repeated ids), ignored.",
      registers,
    }),
    unpriced: new Counter({
      name: "sloughgpt_usage_unpriced_total",
      help: "Usage records stored at cost 0 because MODEL_PRICES has no price for their model.",
      labelNames: ["model"] as const,
      registers,
    }),
    rejected: new Counter({
      name: "sloughgpt_usage_rejected_total",
      help: "Usage events the ledger cannot store (terminated, never redelivered), by reason.",
      labelNames: ["reason"] as const,
      registers,
    }),
    backlog: new Gauge({
      name: "sloughgpt_usage_backlog_events",
      help: "Usage events waiting in JetStream when the last batch was taken.",
      registers,
    }),
    batchSeconds: new Histogram({
      name: "sloughgpt_usage_batch_seconds",
      help: "Time to commit one batch of usage records.",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
  };
}

/**
 * The ledger side of the usage consumer: parse and price each event, store batches, count what
 * happened. Unknown models are stored at cost 0, counted, and logged once per model.
 */
export function usageIngest(deps: { db: Queryable; prices: PriceTable; metrics: Metrics; logger: Logger }) {
  const m = ingestMetrics(deps.metrics);
  const warned = new Set<string>();
  const state: IngestState = { backlogEvents: 0, ingestedUnixMs: 0 };

  const noteUnpriced = (r: LedgerRecord) => {
    m.unpriced.inc({ model: r.model });
    if (warned.has(r.model) || warned.size >= MAX_WARNED_MODELS) return;
    warned.add(r.model);
    deps.logger.warn({ model: r.model }, "Stored usage at cost 0: MODEL_PRICES has no price for the model");
  };

  return {
    state,
    parse(data: unknown): LedgerRecord {
      const event: UsageEvent = usageEvent.parse(data);
      return toLedgerRecord(event, deps.prices);
    },
    async handle(records: LedgerRecord[]): Promise<void> {
      const end = m.batchSeconds.startTimer();
      const fresh = await recordUsage(deps.db, records);
      end();
      state.ingestedUnixMs = Date.now();
      m.duplicates.inc(records.length - fresh.length);
      for (const r of fresh) {
        m.stored.inc({ model: r.model, status: r.status });
        if (!r.price) noteUnpriced(r);
      }
    },
    onBatch(info: { pending: number }): void {
      state.backlogEvents = info.pending;
      m.backlog.set(info.pending);
    },
    onRejected(err: unknown): void {
      m.rejected.inc({ reason: err instanceof InvalidUsageError ? err.reason : "schema" });
    },
  };
}
