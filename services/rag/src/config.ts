import { baseEnv, databaseEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

export const configSchema = z
  .object({
    ...baseEnv,
    ...databaseEnv,
    GRPC_PORT: port(50052),
    /** Characters per chunk when a collection doesn't set its own. */
    DEFAULT_CHUNK_SIZE: z.coerce.number().int().min(64).max(20_000).default(1000),
    DEFAULT_CHUNK_OVERLAP: z.coerce.number().int().min(0).default(150),
  })
  .refine((c) => c.DEFAULT_CHUNK_OVERLAP < c.DEFAULT_CHUNK_SIZE, {
    path: ["DEFAULT_CHUNK_OVERLAP"],
    message: "must be smaller than DEFAULT_CHUNK_SIZE",
  });

export type Config = z.infer<typeof configSchema>;
