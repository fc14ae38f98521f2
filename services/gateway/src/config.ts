import { baseEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

const addr = z.string().regex(/^[^:\s]+:\d+$/, "expected host:port");

export const configSchema = z.object({
  ...baseEnv,
  /** Public API port. */
  PORT: port(8080),
  SERVING_ADDR: addr.default("127.0.0.1:50051"),
  RAG_ADDR: addr.default("127.0.0.1:50052"),
  REASONING_ADDR: addr.default("127.0.0.1:50053"),
  TRAINING_ADDR: addr.default("127.0.0.1:50054"),
  MONITORING_ADDR: addr.default("127.0.0.1:50055"),
  /** Bootstrap admin API key; requests present it as `Authorization: Bearer <key>`. */
  SLOUGHGPT_ADMIN_KEY: z.string().min(16, "must be at least 16 characters"),
  /** Largest request body accepted. */
  BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /** Upper bound on a generation, streamed or not. */
  GENERATION_TIMEOUT_MS: z.coerce.number().int().min(1000).default(300_000),
  /** Upper bound on other upstream calls. */
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
});

export type Config = z.infer<typeof configSchema>;
