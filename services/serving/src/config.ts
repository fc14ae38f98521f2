import { baseEnv, natsEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

export const configSchema = z.object({
  ...baseEnv,
  ...natsEnv,
  GRPC_PORT: port(50051),
  /** GGUF file to serve. The launcher generates the tiny model when none is given. */
  MODEL_PATH: z.string().min(1),
  /** Id the model is listed and requested under. */
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
});

export type Config = z.infer<typeof configSchema>;
