import { baseEnv, databaseEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

export const configSchema = z.object({
  ...baseEnv,
  ...databaseEnv,
  GRPC_PORT: port(50054),
  /** Namespace for jobs whose manifest names none. */
  DEFAULT_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label")
    .default("default"),
});

export type Config = z.infer<typeof configSchema>;
