import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
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

/** The model id on the platform under test whose registry entry forwards to the upstream platform. */
export const FORWARDED_MODEL = "upstream";

// Far above anything two cores reach (a few thousand requests per minute of ~40 tokens), so the
// limiter does its bookkeeping on every request and never refuses one.
export const KEY_LIMITS = { rpm: 10_000_000, tpm: 1_000_000_000 };

// Longer than any run: a cached answer expiring mid-run would turn one request into a decode.
const UPSTREAM_CACHE_TTL_SECONDS = 3600;

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
  /** The upstream's cached answer, which every path must return. */
  expected: string;
  cpu(): Promise<CpuSeconds>;
  /** Response-cache counters of the upstream platform's serving. */
  upstreamCache(): Promise<CacheCounts>;
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
 * The upstream platform (cache warm), the platform under test forwarding to it, an API key, nginx in
 * front of the upstream's gateway, and one driver per path.
 */
export async function startRig(o: GatewayBenchOptions, workload: Workload): Promise<Rig> {
  const bin = await findNginx();
  const teardown = new Teardown();
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), "sloughgpt-bench-gateway-"));
    teardown.add(() => rm(dir, { recursive: true, force: true }));
    const upstream = await startPlatform({
      extraEnv: { RESPONSE_CACHE_TTL_SECONDS: String(UPSTREAM_CACHE_TTL_SECONDS) },
    });
    teardown.add(() => upstream.stop());
    const front = await startFront(dir, upstream);
    teardown.add(() => front.stop());
    const nginx = await startProxy(bin, dir, upstream, o.nginxWorkers);
    teardown.add(() => nginx.stop());
    const expected = await primeUpstream(upstream, workload);
    const apiKey = o.adminKeyOnly ? front.adminKey : await createApiKey(front);
    const drivers = makeDrivers({ front, upstream, nginx, apiKey, workload, expected });
    for (const d of Object.values(drivers)) teardown.add(() => d.close());
    const pids = await groupPids(front, upstream, nginx);
    return {
      drivers,
      apiKey: o.adminKeyOnly ? "bootstrap admin key (--admin-key-only)" : "consumer key created for the run",
      nginxVersion: await nginxVersion(bin),
      expected,
      cpu: () => cpuSnapshot(pids),
      upstreamCache: async () =>
        cacheCounts(await (await fetch(`http://127.0.0.1:${upstream.ports.ops.serving}/metrics`)).text()),
      close: () => teardown.run(),
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}

/** The platform under test: its registry forwards FORWARDED_MODEL to the upstream's gateway. */
async function startFront(dir: string, upstream: Platform): Promise<Platform> {
  const registry = path.join(dir, "models.json");
  const model = {
    id: FORWARDED_MODEL,
    engine: "openai-compatible",
    deployments: [{ url: `${upstream.gatewayUrl}/v1`, apiKeyEnv: "REMOTE_KEY", model: upstream.modelId }],
  };
  await writeFile(registry, JSON.stringify({ models: [model] }, null, 2));
  return startPlatform({
    // Its own cache off: every request, on the grpc and gateway paths alike, crosses to the upstream.
    extraEnv: { MODELS_CONFIG: registry, REMOTE_KEY: upstream.adminKey, RESPONSE_CACHE: "false" },
  });
}

async function startProxy(bin: string, dir: string, upstream: Platform, workers: number): Promise<Nginx> {
  const nginxDir = path.join(dir, "nginx");
  await mkdir(nginxDir);
  return startNginx(bin, {
    dir: nginxDir,
    port: await freePort(),
    upstream: `127.0.0.1:${upstream.ports.gateway}`,
    workers,
    keepalive: 64,
    // As root, nginx would switch its workers to `nobody`, who cannot enter the 0700 temp directory.
    user: process.getuid?.() === 0 ? os.userInfo().username : undefined,
  });
}

/** Asks the upstream twice: the second answer must come from its response cache. Returns its text. */
async function primeUpstream(upstream: Platform, workload: Workload): Promise<string> {
  const ask = async () => {
    const res = await fetch(`${upstream.gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${upstream.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify(chatBody(upstream.modelId, workload)),
    });
    const text = await res.text();
    if (res.status !== 200) throw new WrongAnswerError(`the upstream answered ${res.status}: ${text}`);
    const body = JSON.parse(text) as { choices: { message: { content: string } }[] };
    return { cache: res.headers.get("x-sloughgpt-cache"), content: body.choices[0]?.message.content ?? "" };
  };
  await ask();
  const again = await ask();
  if (again.cache !== "hit") {
    throw new WrongAnswerError(
      `the upstream's second answer was not a cache hit (x-sloughgpt-cache: ${again.cache})`,
    );
  }
  return again.content;
}

/** A consumer key on the platform under test, with rpm/tpm limits the run never reaches. */
async function createApiKey(front: Platform): Promise<string> {
  const res = await fetch(`${front.gatewayUrl}/v1/admin/keys`, {
    method: "POST",
    headers: { authorization: `Bearer ${front.adminKey}`, "content-type": "application/json" },
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
  front: Platform;
  upstream: Platform;
  nginx: Nginx;
  apiKey: string;
  workload: Workload;
  expected: string;
}): Record<PathName, Driver> {
  const { front, upstream, workload, expected } = r;
  const toUpstream = { apiKey: upstream.adminKey, body: chatBody(upstream.modelId, workload), expected };
  return {
    grpc: new GrpcDriver(`127.0.0.1:${front.ports.grpc.serving}`, FORWARDED_MODEL, workload, expected),
    gateway: new HttpDriver("gateway", {
      url: front.gatewayUrl,
      apiKey: r.apiKey,
      body: chatBody(FORWARDED_MODEL, workload),
      expected,
    }),
    nginx: new HttpDriver("nginx", { url: r.nginx.url, ...toUpstream, cache: "hit" }),
    direct: new HttpDriver("direct", { url: upstream.gatewayUrl, ...toUpstream, cache: "hit" }),
  };
}

async function platformPids(p: Platform) {
  const pid = (name: string) => p.supervisor.pid(name);
  const serving = pid("serving");
  const others = SERVICE_NAMES.filter((n) => n !== "serving" && n !== "gateway").map(pid);
  return { gateway: pid("gateway"), serving: [serving, ...(await childPids(serving))], others };
}

async function groupPids(front: Platform, upstream: Platform, nginx: Nginx): Promise<GroupPids> {
  const f = await platformPids(front);
  const u = await platformPids(upstream);
  return {
    gateway: [f.gateway],
    serving: f.serving,
    nginx: await nginx.pids(),
    upstream: [u.gateway, ...u.serving, ...u.others],
    others: f.others,
  };
}
