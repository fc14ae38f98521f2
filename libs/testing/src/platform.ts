import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureTinyModel } from "@sloughgpt/gguf";
import {
  type ExitReport,
  freePort,
  type Ports,
  platformPlan,
  SERVICE_NAMES,
  type ServiceName,
  type ServiceSpec,
  Supervisor,
} from "@sloughgpt/launcher";
import { DEFAULT_NATS_URL, deleteNamespace, testNamespace } from "./nats.js";
import { createTestDatabase, type TestDatabase } from "./postgres.js";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** The tiny model, generated once per machine for all test runs. */
export async function tinyModelPath(): Promise<string> {
  const file = path.join(os.tmpdir(), "sloughgpt-test-models", "tiny-llama.gguf");
  await ensureTinyModel(file);
  return file;
}

export interface PlatformOptions {
  natsUrl?: string;
  /** Admin URL of a real Postgres; a fresh database is created on it. `null` keeps embedded PGlite. */
  postgresAdminUrl?: string | null;
  extraEnv?: Record<string, string>;
  /** GGUF file serving loads; unset, the tiny model. */
  modelPath?: string;
  /** Echo service logs to stderr (they are always kept for failure messages). */
  echoLogs?: boolean;
}

export interface Platform {
  gatewayUrl: string;
  adminKey: string;
  modelId: string;
  ports: Ports;
  natsUrl: string;
  namespace: string;
  supervisor: Supervisor;
  /** What was started, so a test can start a service again after killing it. */
  plan: ServiceSpec[];
  exits: ExitReport[];
  logs(name?: ServiceName): string[];
  /**
   * Starts one more gateway process (a replica: same NATS, database and upstreams, own ports) and
   * returns its URL once it is ready. Its logs are under `gateway-<n>`; `stop` stops it too.
   */
  addGatewayReplica(): Promise<string>;
  stop(): Promise<void>;
}

/** Ports handed out by this process: the OS may offer a just-closed port again, so never twice. */
const handedOut = new Set<number>();

async function uniquePort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

async function allocatePorts(): Promise<Ports> {
  const next = uniquePort;
  return {
    gateway: await next(),
    grpc: {
      serving: await next(),
      rag: await next(),
      reasoning: await next(),
      "training-controller": await next(),
      monitoring: await next(),
    },
    ops: {
      gateway: await next(),
      serving: await next(),
      rag: await next(),
      reasoning: await next(),
      "training-controller": await next(),
      monitoring: await next(),
    },
  };
}

/**
 * Boots all six services as real processes on free loopback ports, against a real NATS
 * (own namespace) and a real Postgres (own database), and waits until each is ready.
 */
export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const natsUrl = opts.natsUrl ?? DEFAULT_NATS_URL;
  const namespace = testNamespace();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "sloughgpt-data-"));
  const db: TestDatabase | undefined =
    opts.postgresAdminUrl === null ? undefined : await createTestDatabase(opts.postgresAdminUrl ?? undefined);
  const ports = await allocatePorts();
  const adminKey = `sk-sg-test-${randomBytes(12).toString("hex")}`;
  const modelId = "tiny-llama";
  const plan = platformPlan({
    ports,
    natsUrl,
    natsNamespace: namespace,
    databaseUrl: db?.url,
    dataDir,
    modelPath: opts.modelPath ?? (await tinyModelPath()),
    modelId,
    adminKey,
    logLevel: "info",
    extraEnv: { SHUTDOWN_GRACE_MS: "10000", ...opts.extraEnv },
  });
  const lines: { name: string; line: string }[] = [];
  const exits: ExitReport[] = [];
  const supervisor = new Supervisor({
    root: REPO_ROOT,
    onLine: (name, line) => {
      lines.push({ name, line });
      if (opts.echoLogs) process.stderr.write(`${name} | ${line}\n`);
    },
    onExit: (r) => exits.push(r),
  });
  const stop = async () => {
    await supervisor.stopAll();
    await deleteNamespace(natsUrl, namespace).catch(() => undefined);
    await db?.drop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  };
  for (const spec of plan) supervisor.start(spec);
  try {
    await Promise.all(SERVICE_NAMES.map((n) => supervisor.waitReady(n, 90_000)));
  } catch (err) {
    const tail = lines
      .slice(-40)
      .map((l) => `${l.name} | ${l.line}`)
      .join("\n");
    await stop();
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
  let replicas = 0;
  const addGatewayReplica = async () => {
    const gateway = plan.find((s) => s.name === "gateway");
    if (!gateway) throw new Error("the plan has no gateway");
    const [port, opsPort] = [await uniquePort(), await uniquePort()];
    replicas += 1;
    // The supervisor keys children by name; a replica's name is only a label for its logs.
    const name = `gateway-${replicas + 1}` as ServiceName;
    supervisor.start({
      ...gateway,
      name,
      opsPort,
      env: { ...gateway.env, PORT: String(port), HTTP_PORT: String(opsPort) },
    });
    await supervisor.waitReady(name, 60_000);
    return `http://127.0.0.1:${port}`;
  };
  return {
    addGatewayReplica,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    adminKey,
    modelId,
    ports,
    natsUrl,
    namespace,
    supervisor,
    plan,
    exits,
    logs: (name) => lines.filter((l) => !name || l.name === name).map((l) => l.line),
    stop,
  };
}
