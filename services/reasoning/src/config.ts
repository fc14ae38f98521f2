import { baseEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

export const configSchema = z.object({
  ...baseEnv,
  GRPC_PORT: port(50053),
  SERVING_ADDR: z
    .string()
    .regex(/^[^:\s]+:\d+$/, "expected host:port")
    .default("127.0.0.1:50051"),
  /** Model used when a request names none. */
  DEFAULT_MODEL: z.string().default("tiny-llama"),
  /** Upper bound on one serving call. */
  SERVING_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
});

export type Config = z.infer<typeof configSchema>;
