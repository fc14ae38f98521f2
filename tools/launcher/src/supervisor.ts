import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { ServiceSpec } from "./plan.js";

export interface ExitReport {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the supervisor asked it to stop. */
  requested: boolean;
}

export interface SupervisorOptions {
  root: string;
  /** Called with each output line of each child. */
  onLine: (name: string, line: string) => void;
  onExit: (report: ExitReport) => void;
  /** Variables of the parent environment children inherit (PATH and the like). */
  inherit?: string[];
}

const INHERIT = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "NODE_EXTRA_CA_CERTS"];

interface Child {
  spec: ServiceSpec;
  proc: ChildProcess;
  exited: Promise<ExitReport>;
  stopRequested: boolean;
}

/**
 * Extra Node.js options for every service from `SLOUGHGPT_NODE_ARGS` (space-separated), for options
 * NODE_OPTIONS does not allow, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a running platform.
 */
export function nodeArgs(env: NodeJS.ProcessEnv): string[] {
  return (env.SLOUGHGPT_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
}

/** Runs services as child processes, waits for their readiness and stops them in reverse order. */
export class Supervisor {
  private readonly children = new Map<string, Child>();

  constructor(private readonly opts: SupervisorOptions) {}

  start(spec: ServiceSpec): void {
    const env: Record<string, string> = {};
    for (const k of this.opts.inherit ?? INHERIT) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    const proc = spawn(process.execPath, [...nodeArgs(process.env), "--import", "tsx", spec.entry], {
      cwd: this.opts.root,
      env: { ...env, ...spec.env },
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group: a terminal's Ctrl-C reaches only the launcher, which stops services in order.
      detached: true,
    });
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (l) => this.opts.onLine(spec.name, l));
    }
    const child: Child = { spec, proc, stopRequested: false, exited: Promise.resolve(undefined as never) };
    child.exited = new Promise<ExitReport>((resolve) => {
      proc.on("exit", (code, signal) => {
        const report = { name: spec.name, code, signal, requested: child.stopRequested };
        this.opts.onExit(report);
        resolve(report);
      });
    });
    this.children.set(spec.name, child);
  }

  pid(name: string): number | undefined {
    return this.children.get(name)?.proc.pid;
  }

  exited(name: string): Promise<ExitReport> {
    const c = this.children.get(name);
    if (!c) throw new Error(`unknown service ${name}`);
    return c.exited;
  }

  /** Polls /readyz until it answers 200; fails early if the process exits. */
  async waitReady(name: string, timeoutMs: number): Promise<void> {
    const c = this.children.get(name);
    if (!c) throw new Error(`unknown service ${name}`);
    const deadline = Date.now() + timeoutMs;
    let exited: ExitReport | undefined;
    void c.exited.then((r) => {
      exited = r;
    });
    while (Date.now() < deadline) {
      if (exited)
        throw new Error(`${name} exited before it was ready (code ${exited.code}, signal ${exited.signal})`);
      try {
        const res = await fetch(`http://127.0.0.1:${c.spec.opsPort}/readyz`, {
          signal: AbortSignal.timeout(1000),
        });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`${name} was not ready within ${timeoutMs} ms`);
  }

  /** SIGTERM one service and wait for it to exit. */
  async stop(name: string, killAfterMs = 20_000): Promise<ExitReport> {
    const c = this.children.get(name);
    if (!c) throw new Error(`unknown service ${name}`);
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.stopRequested = true;
      c.proc.kill("SIGTERM");
      const t = setTimeout(() => c.proc.kill("SIGKILL"), killAfterMs);
      const report = await c.exited;
      clearTimeout(t);
      return report;
    }
    return c.exited;
  }

  /** Last resort when the supervising process exits without stopping its children. */
  killAll(): void {
    for (const c of this.children.values())
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
  }

  /** Stops every service, dependents first. */
  async stopAll(): Promise<ExitReport[]> {
    const reports: ExitReport[] = [];
    for (const name of [...this.children.keys()].reverse()) reports.push(await this.stop(name));
    return reports;
  }
}
