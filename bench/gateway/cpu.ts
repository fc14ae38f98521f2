import { readFile } from "node:fs/promises";
import { procStatCpuSeconds } from "../serving/cpu.js";

/**
 * Where CPU time goes: this process (the clients), the gateway, serving (with its engine process),
 * nginx (master and workers) and the platform's other four services.
 */
export const CPU_GROUPS = ["bench", "gateway", "serving", "nginx", "others"] as const;
export type CpuGroup = (typeof CPU_GROUPS)[number];
export type CpuSeconds = Record<CpuGroup, number>;

/** The processes of each group, other than this one. */
export type GroupPids = Record<Exclude<CpuGroup, "bench">, (number | undefined)[]>;

/** Direct children of a process (Linux /proc): serving's engine processes, nginx's workers. */
export async function childPids(pid: number | undefined): Promise<number[]> {
  if (pid === undefined) return [];
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** A process's CPU seconds; NaN where /proc is missing (not Linux) or the process is gone. */
async function processCpu(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return text === undefined ? Number.NaN : procStatCpuSeconds(text);
}

async function groupCpu(pids: readonly (number | undefined)[]): Promise<number> {
  const each = await Promise.all(pids.map(processCpu));
  return each.length ? each.reduce((a, b) => a + b, 0) : Number.NaN;
}

/** CPU seconds used so far by each group. */
export async function cpuSnapshot(pids: GroupPids): Promise<CpuSeconds> {
  const own = process.cpuUsage();
  const [gateway, serving, nginx, others] = await Promise.all(
    [pids.gateway, pids.serving, pids.nginx, pids.others].map(groupCpu),
  );
  return {
    bench: (own.user + own.system) / 1e6,
    gateway: gateway as number,
    serving: serving as number,
    nginx: nginx as number,
    others: others as number,
  };
}

export function cpuDelta(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return Object.fromEntries(
    Object.entries(after).map(([g, s]) => [g, s - before[g as CpuGroup]]),
  ) as CpuSeconds;
}
