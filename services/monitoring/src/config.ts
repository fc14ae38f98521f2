import { baseEnv, databaseEnv, natsEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

const addr = z.string().regex(/^[^:\s]+:\d+$/, "expected host:port");

export const configSchema = z.object({
  ...baseEnv,
  ...natsEnv,
  ...databaseEnv,
  GRPC_PORT: port(50055),
  SERVING_ADDR: addr.default("127.0.0.1:50051"),
  RAG_ADDR: addr.default("127.0.0.1:50052"),
  REASONING_ADDR: addr.default("127.0.0.1:50053"),
  TRAINING_ADDR: addr.default("127.0.0.1:50054"),
  /** The gateway's readiness URL; unset leaves the gateway out of fleet status. */
  GATEWAY_HEALTH_URL: z.string().url().optional(),
  /** Per-check timeout. */
  HEALTH_TIMEOUT_MS: z.coerce.number().int().min(50).default(2000),
  /**
   * Prices in USD per 1M tokens, `{ <model>: { input, output, cachedInput? } }`: inline JSON, or the
   * path of a YAML/JSON file. Read once at start-up; a model without a price is stored at cost 0.
   */
  MODEL_PRICES: z.string().optional(),
  /** Usage events committed per transaction at most. */
  USAGE_BATCH_SIZE: z.coerce.number().int().min(1).max(5000).default(500),
  /** How long a batch waits for more events after its first; bounds the ledger's added delay. */
  USAGE_BATCH_LINGER_MS: z.coerce.number().int().min(0).max(5000).default(20),
  /** An event taken but not acknowledged (a crashed replica) is redelivered after this. */
  USAGE_ACK_WAIT_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
});

export type Config = z.infer<typeof configSchema>;
