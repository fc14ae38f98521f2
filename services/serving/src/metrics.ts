import { Counter, Gauge, Histogram, type Metrics } from "@sloughgpt/runtime";
import type { Engine } from "./engine/engine.js";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const PER_TOKEN_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Serving's Prometheus metrics. Latency names follow the OpenTelemetry GenAI semantic conventions
 * (gen_ai.server.time_to_first_token → gen_ai_server_time_to_first_token_seconds, …).
 */
export function servingMetrics(metrics: Metrics, engine: Engine) {
  const registers = [metrics.registry];
  new Gauge({
    name: "sloughgpt_serving_running_sequences",
    help: "Sequences decoding now.",
    registers,
    collect() {
      this.set(engine.running);
    },
  });
  new Gauge({
    name: "sloughgpt_serving_queue_depth",
    help: "Requests waiting for a free sequence.",
    registers,
    collect() {
      this.set(engine.queued);
    },
  });
  return {
    requests: new Counter({
      name: "sloughgpt_serving_requests_total",
      help: "Generation and embedding requests, by model, operation and outcome.",
      labelNames: ["model", "operation", "status"] as const,
      registers,
    }),
    promptTokens: new Counter({
      name: "sloughgpt_serving_prompt_tokens_total",
      help: "Prompt tokens evaluated.",
      labelNames: ["model"] as const,
      registers,
    }),
    generatedTokens: new Counter({
      name: "sloughgpt_serving_generation_tokens_total",
      help: "Tokens generated.",
      labelNames: ["model"] as const,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: "gen_ai_server_time_to_first_token_seconds",
      help: "Time from request arrival to the first generated token, queueing included.",
      labelNames: ["model"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    timePerOutputToken: new Histogram({
      name: "gen_ai_server_time_per_output_token_seconds",
      help: "Time per generated token after the first.",
      labelNames: ["model"] as const,
      buckets: PER_TOKEN_BUCKETS,
      registers,
    }),
    requestDuration: new Histogram({
      name: "gen_ai_server_request_duration_seconds",
      help: "Time from request arrival to its last token.",
      labelNames: ["model", "operation"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}

export type ServingMetrics = ReturnType<typeof servingMetrics>;
