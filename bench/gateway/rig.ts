import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort, SERVICE_NAMES } from "@sloughgpt/launcher";
import { type Platform, startPlatform } from "@sloughgpt/testing";
import type { GatewayBenchOptions } from "./args.js";
import { type CpuSeconds, childPids, cpuSnapshot, type GroupPids } from "./cpu.js";
import { chatBody, type Driver, type Workload, WrongAnswerError } from "./driver.js";
import { GrpcDriver } from "./grpc-driver.js";
import { HttpDriver } from "./http-driver.js";
import { type CacheCounts, cacheCounts } from "./metrics.js";
import { findNginx, type Nginx, nginxVersion, startNginx } from "./nginx.js";
import type { PathName } from "./report.js";

// Far above anything two cores reach (a few thousand requests per minute of ~40 tokens), so the
// limiter does its bookkeeping on every request and never refuses one.
export const KEY_LIMITS = { rpm: 10_000_000, tpm: 1_000_000_000 };

// Longer than any run: a cached answer expiring mid-run would turn one request into a decode.
const CACHE_TTL_SECONDS = 3600;

export class ApiKeyError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "ApiKeyError";
  }
}

export interface Rig {
  drivers: Record<PathName, Driver>;
  /** Which key the gateway path presents. */
  apiKey: "consumer key created for the run" | "bootstrap admin key (--admin-key-only)";
  nginxVersion: string;
  /** Serving's cached answer, which every path must return. */
  expected: string;
  cpu(): Promise<CpuSeconds>;
  /** Serving's response-cache counters. */
  servingCache(): Promise<CacheCounts>;
  close(): Promise<void>;
}

/** Cleanup steps run in reverse order of start-up, each attempted even if an earlier one failed. */
class Teardown {
  private readonly steps: (() => Promise<unknown>)[] = [];
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step().catch(() => undefined);
  }
}

/**
 * One platform whose serving has its response cache on and its OpenAI-compatible HTTP API on a free
 * port, nginx in front of that API, the cache primed, an API key, and one driver per path.
 */
export async function startRig(o: GatewayBenchOptions, workload: Workload): Promise<Rig> {
  const bin = await findNginx();
  const teardown = new Teardown();
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), "sloughgpt-bench-gateway-"));
    teardown.add(() => rm(dir, { recursive: true, force: true }));
    const apiPort = await freePort();
    // extraEnv reaches every service; only serving reads these two.
    const platform = await startPlatform({
      extraEnv: { RESPONSE_CACHE_TTL_SECONDS: String(CACHE_TTL_SECONDS), SERVING_API_PORT: String(apiPort) },
    });
    teardown.add(() => platform.stop());
    const servingApi = `http://127.0.0.1:${apiPort}`;
    const nginx = await startProxy(bin, dir, `127.0.0.1:${apiPort}`, o.nginxWorkers);
    teardown.add(() => nginx.stop());
    const expected = await primeCache(servingApi, platform.modelId, workload);
    const apiKey = o.adminKeyOnly ? platform.adminKey : await createApiKey(platform);
    const drivers = makeDrivers({ platform, servingApi, nginx, apiKey, workload, expected });
    for (const d of Object.values(drivers)) teardown.add(() => d.close());
    const pids = await groupPids(platform, nginx);
    return {
      drivers,
      apiKey: o.adminKeyOnly ? "bootstrap admin key (--admin-key-only)" : "consumer key created for the run",
      nginxVersion: await nginxVersion(bin),
      expected,
      cpu: () => cpuSnapshot(pids),
      servingCache: async () =>
        cacheCounts(await (await fetch(`http://127.0.0.1:${platform.ports.ops.serving}/metrics`)).text()),
      close: () => teardown.run(),
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}

async function startProxy(bin: string, dir: string, upstream: string, workers: number): Promise<Nginx> {
  const nginxDir = path.join(dir, "nginx");
  await mkdir(nginxDir);
  return startNginx(bin, {
    dir: nginxDir,
    port: await freePort(),
    upstream,
    workers,
    keepalive: 64,
    // As root, nginx would switch its workers to `nobody`, who cannot enter the 0700 temp directory.
    user: process.getuid?.() === 0 ? os.userInfo().username : undefined,
  });
}

/** Asks serving's HTTP API twice: the second answer must come from its response cache. Returns its text. */
async function primeCache(servingApi: string, model: string, workload: Workload): Promise<string> {
  const ask = async () => {
    const res = await fetch(`${servingApi}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chatBody(model, workload)),
    });
    const text = await res.text();
    if (res.status !== 200) throw new WrongAnswerError(`serving answered ${res.status}: ${text}`);
    const body = JSON.parse(text) as { choices: { message: { content: string } }[] };
    return { cache: res.headers.get("x-sloughgpt-cache"), content: body.choices[0]?.message.content ?? "" };
  };
  await ask();
  const again = await ask();
  if (again.cache !== "hit") {
    throw new WrongAnswerError(
      `serving's second answer was not a cache hit (x-sloughgpt-cache: ${again.cache})`,
    );
  }
  return again.content;
}

/** A consumer key on the platform, with rpm/tpm limits the run never reaches. */
async function createApiKey(platform: Platform): Promise<string> {
  const res = await fetch(`${platform.gatewayUrl}/v1/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${platform.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench-gateway", team: "bench", role: "consumer", ...KEY_LIMITS }),
  });
  const text = await res.text();
  const key = res.ok ? (JSON.parse(text) as { key?: unknown }).key : undefined;
  if (typeof key !== "string") {
    throw new ApiKeyError(
      `Could not create the benchmark's API key: POST /v1/admin/keys answered ${res.status}: ${text.slice(0, 300)}\n` +
        "The gateway path uses a consumer key with rpm/tpm limits so that the rate limiter runs on every\n" +
        "request. On a gateway without that route, run with --admin-key-only (the bootstrap admin key).",
    );
  }
  return key;
}

function makeDrivers(r: {
  platform: Platform;
  servingApi: string;
  nginx: Nginx;
  apiKey: string;
  workload: Workload;
  expected: string;
}): Record<PathName, Driver> {
  const { platform, workload, expected } = r;
  const target = { body: chatBody(platform.modelId, workload), expected, cache: "hit" as const };
  return {
    grpc: new GrpcDriver(`127.0.0.1:${platform.ports.grpc.serving}`, platform.modelId, workload, expected),
    gateway: new HttpDriver("gateway", { url: platform.gatewayUrl, apiKey: r.apiKey, ...target }),
    nginx: new HttpDriver("nginx", { url: r.nginx.url, ...target }),
    direct: new HttpDriver("direct", { url: r.servingApi, ...target }),
  };
}

async function groupPids(platform: Platform, nginx: Nginx): Promise<GroupPids> {
  const pid = (name: string) => platform.supervisor.pid(name);
  const serving = pid("serving");
  return {
    gateway: [pid("gateway")],
    serving: [serving, ...(await childPids(serving))],
    nginx: await nginx.pids(),
    others: SERVICE_NAMES.filter((n) => n !== "serving" && n !== "gateway").map(pid),
  };
}
