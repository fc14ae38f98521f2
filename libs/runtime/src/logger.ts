import pino, { type Logger } from "pino";
import { currentTrace } from "./trace.js";

export type { Logger } from "pino";

/**
 * JSON logs, one child per component; the current trace id is on every line. Lines go to stdout
 * without blocking the event loop (lines logged while a write is under way leave together); what is
 * buffered is written when the process exits.
 */
export function createLogger(opts: { service: string; level?: string }): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin() {
        const t = currentTrace();
        return t ? { trace_id: t.traceId, span_id: t.spanId } : {};
      },
      redact: { paths: ["*.authorization", "*.apiKey", "*.password", "*.key"], censor: "[redacted]" },
    },
    pino.destination({ dest: 1, sync: false }),
  );
}
