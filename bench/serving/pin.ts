import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface PinPlan {
  /** taskset CPU lists: serving gets its decode threads' worth, everything else the rest. */
  serving: string;
  rest: string;
}

export class PinError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "PinError";
  }
}

/**
 * Splits the CPUs so serving never shares one with the gateway or the clients. The rest must hold
 * `threads` CPUs too, since the raw engine decodes there.
 */
export function pinPlan(cpuCount: number, threads: number): PinPlan {
  if (cpuCount < 2 * threads) {
    throw new PinError(
      `--pin needs at least ${2 * threads} CPUs for ${threads} thread(s); found ${cpuCount}`,
    );
  }
  return { serving: cpuList(0, threads - 1), rest: cpuList(threads, cpuCount - 1) };
}

function cpuList(first: number, last: number): string {
  return first === last ? String(first) : `${first}-${last}`;
}

const run = promisify(execFile);

/** Sets the CPU affinity of every thread of each process (Linux, util-linux `taskset`). */
export async function pinProcesses(
  plan: PinPlan,
  pids: { serving: (number | undefined)[]; rest: (number | undefined)[] },
): Promise<void> {
  const jobs: [string, number | undefined][] = [
    ...pids.serving.map((pid): [string, number | undefined] => [plan.serving, pid]),
    ...pids.rest.map((pid): [string, number | undefined] => [plan.rest, pid]),
  ];
  for (const [cpus, pid] of jobs) {
    if (pid === undefined) throw new PinError("a service has no process to pin");
    await run("taskset", ["-a", "-p", "-c", cpus, String(pid)]).catch((error: unknown) => {
      throw new PinError(`taskset failed for pid ${pid}: ${(error as Error).message}`, { cause: error });
    });
  }
}
