import { baseEnv, boolish, natsEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

export const configSchema = z
  .object({
    ...baseEnv,
    ...natsEnv,
    GRPC_PORT: port(50051),
    /** Registry file (YAML or JSON, `{models: [...]}`, docs/serving.md). */
    MODELS_CONFIG: z.string().min(1).optional(),
    /** A single GGUF file to serve, next to or instead of the registry file. */
    MODEL_PATH: z.string().min(1).optional(),
    /** Id the MODEL_PATH model is listed and requested under. */
    MODEL_ID: z.string().min(1).default("tiny-llama"),
    /** Decode threads; on small machines 1 per core in use is far faster than oversubscribing. */
    LLAMA_THREADS: z.coerce.number().int().min(1).max(256).default(1),
    /** Parallel sequences in one context: how many requests decode at once. */
    LLAMA_SEQUENCES: z.coerce.number().int().min(1).max(256).default(4),
    /** Tokens per sequence; 0 uses the model's trained context length. */
    LLAMA_CONTEXT_SIZE: z.coerce.number().int().min(0).default(0),
    /** Layers offloaded to a GPU when one is present (CUDA build). */
    LLAMA_GPU_LAYERS: z.coerce.number().int().min(0).default(0),
    /** "false" runs on the CPU; "auto"/"cuda" use a GPU build when installed. */
    LLAMA_GPU: z.enum(["false", "auto", "cuda", "vulkan"]).default("false"),
    /** Requests waiting for a free sequence; beyond it new requests fail fast with RESOURCE_EXHAUSTED. */
    MAX_QUEUE: z.coerce.number().int().min(0).default(64),
    /** Idle seconds before the MODEL_PATH model unloads (0: never). */
    MODEL_IDLE_UNLOAD_SECONDS: z.coerce.number().int().min(0).default(0),
    /**
     * "process" runs each llama.cpp model in its own process, so an engine abort fails only its
     * requests; "inline" runs it in the service process (one process less, no isolation).
     */
    ENGINE_ISOLATION: z.enum(["process", "inline"]).default("process"),
    /**
     * With ENGINE_ISOLATION=process, how often (ms) the engine process sends what its generations
     * produced: tokens decoded meanwhile travel to the client together, which saves a message through
     * every process per token. A request's first token is never held; 0 sends each token on its own.
     */
    STREAM_INTERVAL_MS: z.coerce.number().int().min(0).max(1000).default(10),
    /** Answer repeated deterministic (temperature 0) requests from the response cache. */
    RESPONSE_CACHE: boolish(true),
    RESPONSE_CACHE_TTL_SECONDS: z.coerce.number().int().min(1).default(600),
    RESPONSE_CACHE_MAX_ENTRIES: z.coerce.number().int().min(1).default(10_000),
    RESPONSE_CACHE_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(64 * 1024 * 1024),
    /** Share entries between replicas through a NATS JetStream KV bucket. */
    RESPONSE_CACHE_SHARED: boolish(true),
    RESPONSE_CACHE_SHARED_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(256 * 1024 * 1024),
    /**
     * Port of serving's own OpenAI-compatible HTTP API (/v1/models, /v1/chat/completions,
     * /v1/completions); unset or 0, there is none (as in the Helm chart: 0 is off, never "any port").
     * It has no rate limits or per-key metering: the gateway is the platform's front door.
     */
    SERVING_API_PORT: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .transform((port) => (port === 0 ? undefined : port)),
    /** When set, the HTTP API requires `Authorization: Bearer <SERVING_API_KEY>` (401 otherwise). */
    SERVING_API_KEY: z.string().min(1).optional(),
    /** Largest request body the HTTP API reads (413 beyond it). */
    SERVING_API_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024),
    /** Register and load the models training jobs publish (`model.published`, docs/serving.md). */
    MODEL_EVENTS: boolish(true),
    /** Load published models only from files under this directory (recommended: the shared model volume). */
    MODEL_EVENTS_ROOT: z.string().min(1).optional(),
    /** This replica's durable consumer of `model.published` (default: from the hostname). */
    MODEL_EVENTS_CONSUMER: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
  })
  .refine((c) => c.MODELS_CONFIG || c.MODEL_PATH, {
    message: "set MODEL_PATH (one GGUF file) or MODELS_CONFIG (a registry file)",
    path: ["MODEL_PATH"],
  });

export type Config = z.infer<typeof configSchema>;
