import os from "node:os";

/** What a result depends on besides the code: recorded next to every benchmark result. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
}

export function thisMachine(): Machine {
  return {
    cpu: os.cpus()[0]?.model.trim() || "unknown CPU",
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

export function describeMachine(m: Machine): string {
  return (
    `${m.cpu}, ${m.cores} core(s), ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB memory, ` +
    `${m.os}, Node.js ${m.node}`
  );
}

/**
 * The features llama.cpp's CPU backend was built with and found ("AVX2 = 1 | AMX_INT8 = 1 | ..."),
 * as a short list: they decide which kernels, and which weight repacking, a type gets.
 */
export function cpuFeatures(systemInfo: string): string {
  const on = [...systemInfo.matchAll(/([A-Z0-9_]+) = 1\b/g)].map((match) => match[1]);
  return on.length > 0 ? on.join(" ") : "none reported";
}
