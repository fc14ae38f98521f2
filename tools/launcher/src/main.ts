import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureTinyModel } from "@sloughgpt/gguf";
import { logLevel, parseConfig, port } from "@sloughgpt/runtime";
import { z } from "zod";
import { ensureAdminKey, freePort, startNatsServer } from "./local.js";
import { formatLogLine } from "./logs.js";
import { DEFAULT_PORTS, platformPlan } from "./plan.js";
import { Supervisor } from "./supervisor.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const schema = z.object({
  /** Public port of the gateway. */
  PORT: port(DEFAULT_PORTS.gateway),
  /** Unset: a local nats-server is started with its store under DATA_DIR. */
  NATS_URL: z.string().optional(),
  NATS_SERVER_BIN: z.string().default("nats-server"),
  NATS_NAMESPACE: z.string().default("sloughgpt"),
  /** Unset: every service uses embedded PGlite under DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  /** Unset: the tiny generated model. */
  MODEL_PATH: z.string().optional(),
  MODEL_ID: z.string().default("tiny-llama"),
  SLOUGHGPT_ADMIN_KEY: z.string().min(16).optional(),
  DATA_DIR: z.string().default(path.join(root, ".data")),
  LOG_LEVEL: logLevel,
});

/** Service settings passed through to the services unchanged (each validates its own). */
const PASS_THROUGH = [
  "LLAMA_THREADS",
  "LLAMA_SEQUENCES",
  "LLAMA_CONTEXT_SIZE",
  "LLAMA_GPU",
  "LLAMA_GPU_LAYERS",
  "MAX_QUEUE",
  "MODELS_CONFIG",
  "MODEL_IDLE_UNLOAD_SECONDS",
  "ENGINE_ISOLATION",
  "RESPONSE_CACHE",
  "RESPONSE_CACHE_TTL_SECONDS",
  "RESPONSE_CACHE_MAX_ENTRIES",
  "RESPONSE_CACHE_MAX_BYTES",
  "RESPONSE_CACHE_SHARED",
  "SHUTDOWN_GRACE_MS",
  "HEALTH_TIMEOUT_MS",
  "DEFAULT_CHUNK_SIZE",
  "DEFAULT_CHUNK_OVERLAP",
  "DEFAULT_NAMESPACE",
  "BODY_LIMIT_BYTES",
  "GENERATION_TIMEOUT_MS",
  "UPSTREAM_TIMEOUT_MS",
  "SERVING_TIMEOUT_MS",
];

const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const cfg = parseConfig(schema, process.env);
  const dataDir = path.resolve(cfg.DATA_DIR);
  let natsUrl = cfg.NATS_URL;
  let nats: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  if (!natsUrl) {
    const natsPort = await freePort();
    nats = await startNatsServer({
      bin: cfg.NATS_SERVER_BIN,
      dataDir: path.join(dataDir, "nats"),
      port: natsPort,
    });
    natsUrl = `nats://127.0.0.1:${natsPort}`;
    out(`launcher            | started nats-server at ${natsUrl}`);
  }
  const modelPath = cfg.MODEL_PATH ?? path.join(dataDir, "models", "tiny-llama.gguf");
  if (!cfg.MODEL_PATH) await ensureTinyModel(modelPath);
  const adminKey = await ensureAdminKey(dataDir, cfg.SLOUGHGPT_ADMIN_KEY);
  const extraEnv: Record<string, string> = {};
  for (const k of PASS_THROUGH) {
    const v = process.env[k];
    if (v) extraEnv[k] = v;
  }
  const plan = platformPlan({
    ports: { ...DEFAULT_PORTS, gateway: cfg.PORT },
    natsUrl,
    natsNamespace: cfg.NATS_NAMESPACE,
    databaseUrl: cfg.DATABASE_URL,
    dataDir,
    modelPath,
    modelId: cfg.MODEL_ID,
    adminKey,
    logLevel: cfg.LOG_LEVEL,
    extraEnv,
  });

  let stopping = false;
  const sup = new Supervisor({
    root,
    onLine: (name, line) => out(formatLogLine(name, line)),
    onExit: (r) => {
      const how = r.signal ? `signal ${r.signal}` : `code ${r.code}`;
      out(
        `launcher            | ${r.name} exited with ${how}${r.requested || stopping ? "" : " (unexpectedly)"}`,
      );
    },
  });
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    out("launcher            | stopping all services");
    const reports = await sup.stopAll();
    nats?.kill("SIGTERM");
    const clean = reports.every((r) => r.code === 0);
    process.exit(code || (clean ? 0 : 1));
  };
  process.on("exit", () => {
    sup.killAll();
    nats?.kill("SIGKILL");
  });
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));

  for (const spec of plan) sup.start(spec);
  try {
    await Promise.all(plan.map((s) => sup.waitReady(s.name, 120_000)));
  } catch (err) {
    out(`launcher            | ${(err as Error).message}`);
    await shutdown(1);
    return;
  }
  const url = `http://127.0.0.1:${cfg.PORT}`;
  out("");
  out(`SloughGPT is up: ${url}/v1`);
  out(`Admin API key:   ${adminKey}`);
  out("Try:");
  out(`  curl -s ${url}/v1/chat/completions -H "Authorization: Bearer ${adminKey}" \\`);
  out(`    -H "Content-Type: application/json" \\`);
  out(`    -d '{"model":"${cfg.MODEL_ID}","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32}'`);
  out("Press Ctrl-C to stop.");
  out("");
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
