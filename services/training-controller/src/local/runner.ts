import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { type FileHandle, open, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { constants } from "node:os";
import path from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { AlreadyExistsError, type Logger, NotFoundError } from "@sloughgpt/runtime";
import {
  API_VERSION,
  KIND,
  type TrainingJob,
  type TrainingJobStatus,
  trainingJobSpec,
} from "../api/types.js";
import { phaseEvents } from "../controller/events.js";
import {
  LABEL_ATTEMPT,
  LABEL_JOB,
  LABEL_NODE_INDEX,
  podName,
  TRAINER_CONTAINER,
} from "../controller/names.js";
import { type Plan, planJob } from "../controller/plan.js";
import { rendezvousEnv, type StoredJob } from "../controller/podspec.js";
import type { JobCluster } from "../jobs/cluster.js";
import { type LogQuery, lastLines, logBytesPerNode, type NodeLogs, nodesOf } from "../jobs/logs.js";
import { localRankEnv, prefixLines } from "./ranks.js";

/** A node of a local job: one process, described as the pod it stands for so the same plan applies. */
interface LocalNode {
  pod: V1Pod;
  /** One process per local rank (`procsPerNode`), each the leader of its own process group. */
  children: ChildProcess[];
  /** Settle when each process has exited (or failed to start). */
  exits: Promise<void>[];
}

/** How long a stopped process has between SIGTERM and SIGKILL (a pod's default grace period is 30 s). */
const KILL_GRACE_MS = 10_000;
/** How long, after a process exits, its output pipes may stay open (held by a process it left behind). */
const DRAIN_MS = 1_000;

/** Signals the process group `pid` leads; false when no process of it is left. */
function signalGroupOf(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    return process.kill(-pid, signal);
  } catch {
    return false;
  }
}

/** Signals a process and everything it started (its process group: a shell wrapper, dataloader workers). */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (!signalGroupOf(child.pid, signal)) child.kill(signal);
}

/** SIGTERM now, SIGKILL after the grace period if it has not exited by then. */
function terminate(child: ChildProcess, graceMs = KILL_GRACE_MS): void {
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
  timer.unref();
  child.once("exit", () => clearTimeout(timer));
}

interface LocalJob {
  job: StoredJob;
  masterPort: number;
  nodes: Map<string, LocalNode>;
  timer?: NodeJS.Timeout;
}

export interface LocalRunnerOptions {
  /** Logs go to `<logDir>/<namespace>/<job>/node-<i>.attempt-<n>.log`. */
  logDir: string;
  logger: Logger;
  now?: () => Date;
  /** Environment every process starts from (the trainer's PATH, PYTHONPATH…). */
  baseEnv?: NodeJS.ProcessEnv;
  /** Between SIGTERM and SIGKILL when processes are stopped; 10 s by default. */
  killGraceMs?: number;
  /** Phase events and `model.published`, with the same subjects and payloads as the cluster backend. */
  publish?: (subject: string, payload: unknown) => void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const signalCode = (signal: NodeJS.Signals | null) =>
  signal ? 128 + ((constants.signals as Record<string, number>)[signal] ?? 0) : 1;

/**
 * BACKEND=local: runs a TrainingJob's nodes as local processes with the same environment as its pods
 * (MASTER_ADDR=127.0.0.1 and a free port, env:// rendezvous) and the same plan, so phases, restarts,
 * backoff, deadline, suspend and exit codes behave as in a cluster. State lives in memory: jobs do not
 * survive a restart of the service.
 */
export class LocalJobCluster implements JobCluster {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly now: () => Date;
  private readonly log: Logger;
  private generation = 0;

  constructor(private readonly opts: LocalRunnerOptions) {
    this.now = opts.now ?? (() => new Date());
    this.log = opts.logger.child({ component: "local-runner" });
  }

  async create(manifest: TrainingJob, namespace: string, _team: string): Promise<void> {
    const key = `${namespace}/${manifest.metadata.name}`;
    if (this.jobs.has(key)) throw new AlreadyExistsError(`TrainingJob ${key} already runs`);
    const job: StoredJob = {
      ...manifest,
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        ...manifest.metadata,
        namespace,
        uid: randomUUID(),
        generation: ++this.generation,
        creationTimestamp: this.now().toISOString(),
      } as StoredJob["metadata"],
      spec: trainingJobSpec.parse(manifest.spec),
    };
    // A job of the same name before this one (perhaps another team's) leaves no lines behind.
    await rm(path.join(this.opts.logDir, namespace, manifest.metadata.name), {
      recursive: true,
      force: true,
    });
    this.jobs.set(key, { job, masterPort: await freePort(), nodes: new Map() });
    this.reconcile(key);
  }

  async status(namespace: string, name: string): Promise<TrainingJobStatus | undefined> {
    return this.jobs.get(`${namespace}/${name}`)?.job.status;
  }

  async statuses(namespace?: string): Promise<Map<string, TrainingJobStatus>> {
    const out = new Map<string, TrainingJobStatus>();
    for (const [key, j] of this.jobs) {
      if (!namespace || j.job.metadata.namespace === namespace) out.set(key, j.job.status ?? {});
    }
    return out;
  }

  async delete(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    const local = this.jobs.get(key);
    if (!local) return;
    this.jobs.delete(key);
    clearTimeout(local.timer);
    const nodes = [...local.nodes.values()];
    for (const node of nodes) for (const child of node.children) terminate(child, this.opts.killGraceMs);
    // Resolves once every process has exited: SIGKILL ends the ones that ignore SIGTERM.
    await Promise.all(nodes.flatMap((n) => n.exits));
  }

  async setSuspend(namespace: string, name: string, suspend: boolean): Promise<void> {
    const key = `${namespace}/${name}`;
    const local = this.jobs.get(key);
    if (!local) return;
    local.job = { ...local.job, spec: { ...local.job.spec, suspend } };
    local.job.metadata.generation = ++this.generation;
    this.reconcile(key);
  }

  /** Reads the end of each node's log file of the attempt (every attempt's file is kept). */
  async logs(namespace: string, name: string, query: LogQuery): Promise<NodeLogs[]> {
    const local = this.jobs.get(`${namespace}/${name}`);
    if (!local) throw new NotFoundError(`TrainingJob ${namespace}/${name} does not run here`);
    const attempt = query.attempt ?? local.job.status?.restarts ?? 0;
    return Promise.all(
      nodesOf(local.job.spec.numNodes, query.node).map(async (node): Promise<NodeLogs> => {
        const file = this.logFile(local.job, node, attempt);
        const text = await readTail(file, query.tailLines, logBytesPerNode(query, local.job.spec.numNodes));
        if (text === undefined) return { node, source: file, attempt, text: "", message: "no log file yet" };
        return { node, source: file, attempt, text };
      }),
    );
  }

  private logFile(job: StoredJob, node: number, attempt: number): string {
    return path.join(
      this.opts.logDir,
      job.metadata.namespace,
      job.metadata.name,
      `node-${node}.attempt-${attempt}.log`,
    );
  }

  /** Resolves once the job is Succeeded or Failed (for tests and the CLI's --local). */
  async untilFinished(namespace: string, name: string, signal?: AbortSignal): Promise<TrainingJobStatus> {
    for (;;) {
      const status = await this.status(namespace, name);
      if (!status || status.phase === "Succeeded" || status.phase === "Failed" || signal?.aborted)
        return status ?? {};
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async close(): Promise<void> {
    for (const [namespace, name] of [...this.jobs.keys()].map((k) => k.split("/") as [string, string])) {
      await this.delete(namespace, name);
    }
  }

  private reconcile(key: string): void {
    const local = this.jobs.get(key);
    if (!local) return;
    const plan = planJob({
      job: local.job,
      pods: [...local.nodes.values()].map((n) => n.pod),
      serviceExists: true,
      admission: { admit: true, message: `admitted: ${local.job.spec.numNodes} local processes` },
      now: this.now(),
      pendingTimeoutSeconds: 3600,
    });
    const before = local.job.status?.phase;
    local.job = { ...local.job, status: plan.status };
    if (plan.status.phase !== before) {
      this.log.info(
        { job: key, from: before, phase: plan.status.phase },
        "Moved local TrainingJob to a new phase",
      );
      this.publishPhase(local.job);
    }
    this.apply(key, local, plan, plan.status.phase !== before);
  }

  private publishPhase(job: StoredJob): void {
    if (!this.opts.publish || !job.status) return;
    for (const [subject, payload] of phaseEvents(job, job.status, this.now()))
      this.opts.publish(subject, payload);
  }

  private apply(key: string, local: LocalJob, plan: Plan, moved: boolean): void {
    for (const name of plan.deletePods) this.stopNode(local, name);
    const attempt = plan.status.restarts ?? 0;
    for (const index of plan.createPods) {
      // As a pod name is taken until the old pod is gone: the node starts again once its old
      // processes have exited (their exit reconciles the job).
      const old = local.nodes.get(podName(local.job.metadata.name, index));
      if (!old?.pod.metadata?.deletionTimestamp) this.startNode(key, local, index, attempt);
    }
    clearTimeout(local.timer);
    if (plan.deleteJob) {
      this.jobs.delete(key);
      return;
    }
    // New processes or a new phase change what the plan sees (running pods, a completion time for the
    // TTL): look again at once, as the cluster backend's pod and job watches would.
    const delay = plan.createPods.length > 0 || moved ? 0 : plan.requeueAfterMs;
    if (delay !== undefined) {
      local.timer = setTimeout(() => this.reconcile(key), delay);
      local.timer.unref();
    }
  }

  private stopNode(local: LocalJob, name: string): void {
    const node = local.nodes.get(name);
    if (!node) return;
    const running = node.children.filter((c) => c.exitCode === null && c.signalCode === null);
    if (running.length > 0) {
      node.pod.metadata!.deletionTimestamp = this.now();
      for (const child of running) terminate(child, this.opts.killGraceMs);
    } else {
      local.nodes.delete(name);
    }
  }

  private startNode(key: string, local: LocalJob, index: number, attempt: number): void {
    const { job } = local;
    const name = podName(job.metadata.name, index);
    const logFile = this.logFile(job, index, attempt);
    mkdirSync(path.dirname(logFile), { recursive: true });
    const out = createWriteStream(logFile, { flags: "a" });
    out.on("error", (err) => this.log.warn({ err, file: logFile }, "Failed to write a local job's log"));
    const env = Object.fromEntries(rendezvousEnv(job, index, attempt).map((e) => [e.name, e.value ?? ""]));
    const port = String(local.masterPort);
    const ours = {
      ...env,
      MASTER_ADDR: "127.0.0.1",
      PET_MASTER_ADDR: "127.0.0.1",
      MASTER_PORT: port,
      PET_MASTER_PORT: port,
    };
    const theirs = Object.fromEntries((job.spec.env ?? []).map((e) => [e.name, e.value ?? ""]));
    const [cmd, ...args] = [...(job.spec.command ?? []), ...(job.spec.args ?? [])];
    const pod: V1Pod = {
      metadata: {
        name,
        namespace: job.metadata.namespace,
        labels: {
          [LABEL_JOB]: job.metadata.name,
          [LABEL_NODE_INDEX]: String(index),
          [LABEL_ATTEMPT]: String(attempt),
        },
        ownerReferences: [
          { apiVersion: API_VERSION, kind: KIND, name: job.metadata.name, uid: job.metadata.uid },
        ],
        creationTimestamp: this.now(),
      },
      spec: { containers: [{ name: TRAINER_CONTAINER }], nodeName: "local" },
      status: { phase: "Running", containerStatuses: [runningStatus()] },
    };
    const node: LocalNode = { pod, children: [], exits: [] };
    local.nodes.set(name, node);
    if (!cmd) {
      this.finish(key, local, name, node, 127, "NoCommand");
      return;
    }
    // Like torchrun's agent: the node ends when all its ranks have; the first rank to fail ends the
    // others and its exit code is the node's.
    const procs = job.spec.procsPerNode;
    let failed: { code: number; reason: string } | undefined;
    const exitedChildren = new Set<ChildProcess>();
    const exited = (child: ChildProcess, code: number, reason: string) => {
      if (exitedChildren.has(child)) return;
      exitedChildren.add(child);
      if (code !== 0 && !failed) {
        failed = { code, reason };
        endOthers(node.children, exitedChildren, this.opts.killGraceMs);
      }
      if (exitedChildren.size < procs) return;
      out.end();
      this.finish(key, local, name, node, failed?.code ?? 0, failed?.reason ?? "Completed");
    };
    for (let localRank = 0; localRank < procs; localRank++) {
      const child = spawn(cmd, args, {
        env: {
          ...(this.opts.baseEnv ?? process.env),
          ...theirs,
          ...ours,
          ...localRankEnv(job, index, localRank),
        },
        stdio: ["ignore", "pipe", "pipe"],
        // Its own process group, so stopping it reaches whatever it started too.
        detached: true,
      });
      node.children.push(child);
      node.exits.push(
        new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.once("error", () => resolve());
        }),
      );
      for (const stream of [child.stdout, child.stderr]) {
        if (!stream) continue;
        if (procs === 1) stream.pipe(out, { end: false });
        else prefixLines(stream, out, `[rank ${index * procs + localRank}] `);
      }
      child.on("error", (err) => {
        out.write(`${String(err)}\n`);
        exited(child, 127, "StartError");
      });
      // Its output is read to the end ("close") before the node's log ends, unless something it left
      // behind holds the pipes open: then they are closed after DRAIN_MS.
      child.once("exit", (code, signal) => {
        // As when a container's main process ends: what it left running goes with it.
        signalGroupOf(child.pid, "SIGKILL");
        const done = () =>
          exited(
            child,
            code ?? signalCode(signal),
            code === 0 ? "Completed" : signal ? `Signal ${signal}` : "Error",
          );
        const timer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, DRAIN_MS);
        child.once("close", () => {
          clearTimeout(timer);
          done();
        });
      });
    }
  }

  private finish(
    key: string,
    local: LocalJob,
    name: string,
    node: LocalNode,
    exitCode: number,
    reason: string,
  ): void {
    if (node.pod.metadata?.deletionTimestamp) {
      if (local.nodes.get(name) === node) local.nodes.delete(name);
    } else {
      node.pod.status = {
        phase: exitCode === 0 ? "Succeeded" : "Failed",
        containerStatuses: [
          { ...runningStatus(), ready: false, state: { terminated: { exitCode, reason } } },
        ],
      };
    }
    if (this.jobs.get(key) === local) this.reconcile(key);
  }
}

/** Ends the ranks of a node that are still running. */
function endOthers(children: ChildProcess[], exited: Set<ChildProcess>, graceMs?: number): void {
  for (const child of children) if (!exited.has(child)) terminate(child, graceMs);
}

/** The last `lines` lines within the file's last `maxBytes` bytes; undefined when there is no file. */
async function readTail(file: string, lines: number, maxBytes: number): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    // One byte before the window too: if it is a newline, the window starts with a whole line.
    const start = Math.max(0, size - maxBytes - 1);
    const buf = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(buf, 0, buf.length, start);
    let text = buf.subarray(0, bytesRead).toString("utf8");
    // Starting mid-file, the first line is partial (or just the newline before the window): drop it.
    if (start > 0) text = text.slice(text.indexOf("\n") + 1);
    return lastLines(text, lines);
  } finally {
    await handle.close();
  }
}

function runningStatus() {
  return {
    name: TRAINER_CONTAINER,
    image: "",
    imageID: "",
    ready: true,
    restartCount: 0,
    state: { running: {} },
  };
}
