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
});

export type Config = z.infer<typeof configSchema>;
