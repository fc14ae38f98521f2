import { readFile } from "node:fs/promises";

/**
 * Where CPU time goes: this process (clients and the raw engine), the serving service, its engine
 * processes, the gateway, the other four services.
 */
export const CPU_PROCESSES = ["bench", "serving", "engine", "gateway", "others"] as const;
export type CpuProcess = (typeof CPU_PROCESSES)[number];
export type CpuSeconds = Record<CpuProcess, number>;

// USER_HZ: fixed at 100 on every Linux architecture node runs on.
const TICKS_PER_SECOND = 100;

/**
 * User plus system CPU seconds from the text of /proc/<pid>/stat. The command name (field 2) may
 * hold spaces and parentheses, so fields are counted from the last ')'.
 */
export function procStatCpuSeconds(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // After the name: state is field 3, utime field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable stat line: ${stat}`);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Reads a process's CPU seconds; NaN where /proc is missing (not Linux) or the process is gone. */
async function processCpu(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const text = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return text === undefined ? Number.NaN : procStatCpuSeconds(text);
}

export interface ServicePids {
  serving: number | undefined;
  /** serving's engine processes, one per llama.cpp model. */
  engines: number[];
  gateway: number | undefined;
  others: (number | undefined)[];
}

const sum = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) : Number.NaN);

/** CPU seconds used so far by each group of processes. */
export async function cpuSnapshot(pids: ServicePids): Promise<CpuSeconds> {
  const own = process.cpuUsage();
  const [serving, gateway, ...others] = await Promise.all(
    [pids.serving, pids.gateway, ...pids.others].map(processCpu),
  );
  return {
    bench: (own.user + own.system) / 1e6,
    serving: serving ?? Number.NaN,
    engine: sum(await Promise.all(pids.engines.map(processCpu))),
    gateway: gateway ?? Number.NaN,
    others: sum(others),
  };
}

export function cpuDelta(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return Object.fromEntries(CPU_PROCESSES.map((p) => [p, after[p] - before[p]])) as CpuSeconds;
}
