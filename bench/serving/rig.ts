import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  BENCH_LLAMA_OPTIONS,
  ensureTinyModel,
  TinyLlamaOptionsError,
  type TinyLlamaTensorType,
} from "@sloughgpt/gguf";
import { SERVICE_NAMES } from "@sloughgpt/launcher";
import { type Platform, startPlatform } from "@sloughgpt/testing";
import { type BenchOptions, UsageError } from "./args.js";
import { type CpuSeconds, cpuSnapshot } from "./cpu.js";
import type { Driver, Workload } from "./driver.js";
import { GatewayDriver } from "./gateway-driver.js";
import { GrpcDriver } from "./grpc-driver.js";
import { pinPlan, pinProcesses } from "./pin.js";
import { RawDriver } from "./raw-driver.js";
import type { PathName } from "./report.js";

/** The 8-layer, 512-wide model, generated once per machine and weight type. */
export async function benchModel(type: string): Promise<string> {
  const file = path.join(os.tmpdir(), "sloughgpt-bench-models", `bench-llama-${type}.gguf`);
  try {
    await ensureTinyModel(file, { ...BENCH_LLAMA_OPTIONS, tensorType: type as TinyLlamaTensorType });
  } catch (error) {
    if (!(error instanceof TinyLlamaOptionsError)) throw error;
    throw new UsageError(`--type: ${error.message}`, { cause: error });
  }
  return file;
}

export interface Rig {
  drivers: Record<PathName, Driver>;
  cpu(): Promise<CpuSeconds>;
  close(): Promise<void>;
}

/** Direct children of a process (Linux /proc); serving runs each model's engine in one. */
async function childPids(pid: number | undefined): Promise<number[]> {
  if (pid === undefined) return [];
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.split(/\s+/).filter(Boolean).map(Number);
}

async function servicePids(platform: Platform) {
  const pid = (name: string) => platform.supervisor.pid(name);
  const others = SERVICE_NAMES.filter((n) => n !== "serving" && n !== "gateway");
  const serving = pid("serving");
  return {
    serving,
    engines: await childPids(serving),
    gateway: pid("gateway"),
    others: others.map(pid),
  };
}

/** The platform on the bench model plus one driver per path, all with the same engine settings. */
export async function startRig(o: BenchOptions, modelPath: string, workload: Workload): Promise<Rig> {
  const pins = o.pin ? pinPlan(os.availableParallelism(), o.threads) : undefined;
  const platform: Platform = await startPlatform({
    modelPath,
    extraEnv: {
      LLAMA_THREADS: String(o.threads),
      LLAMA_SEQUENCES: String(o.sequences),
      LLAMA_CONTEXT_SIZE: String(o.contextSize),
      // Every request of the workload is the same greedy one: measure decoding, not the cache.
      RESPONSE_CACHE: "false",
      ...(o.streamIntervalMs === undefined ? {} : { STREAM_INTERVAL_MS: String(o.streamIntervalMs) }),
    },
  });
  const started: Driver[] = [];
  const close = async () => {
    await Promise.allSettled(started.map((d) => d.close()));
    await platform.stop();
  };
  try {
    const raw = await RawDriver.load({ modelPath, ...o }, workload);
    started.push(raw);
    const grpc = new GrpcDriver(`127.0.0.1:${platform.ports.grpc.serving}`, platform.modelId, workload);
    started.push(grpc);
    const gateway = new GatewayDriver(platform.gatewayUrl, platform.adminKey, platform.modelId, workload);
    started.push(gateway);
    const pids = await servicePids(platform);
    if (pins) {
      await pinProcesses(pins, {
        serving: [pids.serving, ...pids.engines],
        rest: [pids.gateway, ...pids.others, process.pid],
      });
    }
    return { drivers: { raw, grpc, gateway }, cpu: () => cpuSnapshot(pids), close };
  } catch (error) {
    await close();
    throw error;
  }
}
