import { Counter, Gauge, Histogram, type Metrics } from "@sloughgpt/runtime";
import type { ModelRegistry } from "./registry/registry.js";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const PER_TOKEN_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Serving's Prometheus metrics. Latency names follow the OpenTelemetry GenAI semantic conventions
 * (gen_ai.server.time_to_first_token → gen_ai_server_time_to_first_token_seconds, …).
 */
export function servingMetrics(metrics: Metrics, registry: Pick<ModelRegistry, "usage" | "models">) {
  const registers = [metrics.registry];
  new Gauge({
    name: "sloughgpt_serving_running_sequences",
    help: "Sequences decoding now, by model.",
    labelNames: ["model"] as const,
    registers,
    collect() {
      this.reset();
      for (const u of registry.usage()) this.set({ model: u.model }, u.running);
    },
  });
  new Gauge({
    name: "sloughgpt_serving_queue_depth",
    help: "Requests waiting for a free sequence, by model.",
    labelNames: ["model"] as const,
    registers,
    collect() {
      this.reset();
      for (const u of registry.usage()) this.set({ model: u.model }, u.queued);
    },
  });
  new Gauge({
    name: "sloughgpt_serving_models",
    help: "Declared models by state (loading, loaded, idle, failed).",
    labelNames: ["state"] as const,
    registers,
    collect() {
      this.reset();
      const counts: Record<string, number> = { loading: 0, loaded: 0, idle: 0, failed: 0 };
      for (const m of registry.models()) counts[m.state] = (counts[m.state] ?? 0) + 1;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  return {
    responseCache: new Counter({
      name: "sloughgpt_serving_response_cache_requests_total",
      help: "Response cache lookups of deterministic requests: hit (by tier) or miss.",
      labelNames: ["model", "result", "tier"] as const,
      registers,
    }),
    prefixHits: new Counter({
      name: "sloughgpt_serving_prefix_cache_hits_total",
      help: "Requests whose prompt reused tokens evaluated by an earlier request.",
      labelNames: ["model"] as const,
      registers,
    }),
    prefixTokens: new Counter({
      name: "sloughgpt_serving_prefix_cache_reused_tokens_total",
      help: "Prompt tokens not evaluated again thanks to prefix reuse.",
      labelNames: ["model"] as const,
      registers,
    }),
    modelLoad: new Histogram({
      name: "sloughgpt_serving_model_load_seconds",
      help: "Time to load a model, from request to ready.",
      labelNames: ["model"] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    engineRestarts: new Counter({
      name: "sloughgpt_serving_engine_restarts_total",
      help: "Engine processes that died and were started again.",
      labelNames: ["model"] as const,
      registers,
    }),
    requests: new Counter({
      name: "sloughgpt_serving_requests_total",
      help: "Generation and embedding requests, by model, operation and outcome.",
      labelNames: ["model", "operation", "status"] as const,
      registers,
    }),
    promptTokens: new Counter({
      name: "sloughgpt_serving_prompt_tokens_total",
      help: "Prompt tokens, including those reused from an earlier evaluation.",
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
