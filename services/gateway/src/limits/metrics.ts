import { Counter, type Registry } from "@sloughgpt/runtime";
import type { RateLimitDecision } from "./limiter.js";

/** A Prometheus counter of decisions by scope kind, outcome, limit and where they were decided; pass as onDecision. */
export function rateLimitMetrics(registry: Registry): (decision: RateLimitDecision) => void {
  const decisions = new Counter({
    name: "gateway_rate_limit_decisions_total",
    help: "Rate-limit decisions: admitted per counted scope, refused per refusing scope.",
    labelNames: ["kind", "outcome", "limit", "counters"] as const,
    registers: [registry],
  });
  return (d) =>
    decisions.inc({ kind: d.kind, outcome: d.outcome, limit: d.limit ?? "", counters: d.counters });
}
