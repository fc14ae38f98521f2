import { z } from "zod";

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

/**
 * Parses environment variables against a zod object schema. Empty strings count as
 * unset so `FOO=` falls back to the default. Errors name every bad variable.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`);
  throw new ConfigError(`invalid configuration: ${issues.join("; ")}`, issues);
}

/** parseConfig for a process's start-up: a bad value stops the process with a message naming it. */
export function loadConfig<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  try {
    return parseConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

export const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
export const boolish = (def: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default(def ? "true" : "false")
    .transform((v) => v === "true" || v === "1" || v === "yes");
export const logLevel = z
  .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
  .default("info");

/** Variables every service reads. */
export const baseEnv = {
  /** pino level. */
  LOG_LEVEL: logLevel,
  /** Ops HTTP port: /metrics, /healthz, /readyz. 0 picks a free port. */
  HTTP_PORT: port(0),
  /** Address the listeners bind to. */
  BIND_HOST: z.string().default("0.0.0.0"),
  /** How long SIGTERM waits for in-flight calls before cancelling them. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** Local state (embedded Postgres, models) when no external store is configured. */
  DATA_DIR: z.string().default(".data"),
};

export const natsEnv = {
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** Prefix of every stream and subject, so several platforms can share one NATS. */
  NATS_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, "lowercase letters, digits and _")
    .default("sloughgpt"),
};

export const databaseEnv = {
  /** postgres://… for a Postgres server; unset runs embedded PGlite under DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
};
