import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger, Registry } from "@sloughgpt/runtime";
import { connectionReuse } from "./client.js";
import { type Change, Informers } from "./informers.js";
import { type ClusterWriter, KubeClusterWriter } from "./kube.js";
import { LeaderElector, type LeaderOptions } from "./leader.js";
import { createControllerMetrics } from "./metrics.js";
import { jobKey, LABEL_JOB } from "./names.js";
import { isActive, isFinished } from "./plan.js";
import type { PodOptions } from "./podspec.js";
import { WorkQueue } from "./queue.js";
import { Reconciler } from "./reconciler.js";

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Watch one namespace; all when unset. */
  namespace?: string;
  registry?: Registry;
  writer?: ClusterWriter;
  now?: () => Date;
  /** Every job is reconciled again this often even without events (level-based safety net). */
  resyncSeconds?: number;
  pendingTimeoutSeconds?: number;
  podOptions?: PodOptions;
  publish?: (subject: string, payload: unknown) => void;
  /** Delay before a failed list or watch is retried (default 1 s). */
  watchRestartMs?: number;
  /** Without it this replica acts alone (a single replica, or tests). */
  leaderElection?: Omit<LeaderOptions, "logger" | "now">;
}

const MAX_ERROR_BACKOFF_MS = 60_000;

/** Informers → work queue → one reconcile at a time, only while leading. */
export class TrainingController {
  readonly queue: WorkQueue;
  readonly reconciler: Reconciler;
  readonly informers: Informers;
  private readonly stopping = new AbortController();
  private readonly errors = new Map<string, number>();
  private readonly log: Logger;
  private running?: Promise<void>;
  private leading = false;
  /** See ReconcilerOptions.worldVersion. */
  private worldVersion = 0;

  constructor(private readonly opts: ControllerOptions) {
    this.log = opts.logger.child({ component: "training-controller" });
    this.queue = new WorkQueue();
    this.informers = new Informers(opts.kubeConfig, {
      namespace: opts.namespace,
      logger: this.log,
      signal: this.stopping.signal,
      onChange: (c) => this.onChange(c),
      restartDelayMs: opts.watchRestartMs,
    });
    const metrics = opts.registry
      ? createControllerMetrics(opts.registry, {
          jobs: () => this.informers.jobs(),
          queueLength: () => this.queue.length,
        })
      : undefined;
    this.reconciler = new Reconciler({
      view: this.informers,
      writer: opts.writer ?? new KubeClusterWriter(opts.kubeConfig),
      logger: opts.logger,
      now: opts.now,
      pendingTimeoutSeconds: opts.pendingTimeoutSeconds,
      podOptions: opts.podOptions,
      publish: opts.publish,
      metrics,
      worldVersion: () => this.worldVersion,
    });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Fills the caches, then reconciles (while leading) until stop(). */
  async start(): Promise<void> {
    await this.informers.start();
    const resync = setInterval(() => this.enqueueAll(), (this.opts.resyncSeconds ?? 300) * 1000);
    resync.unref();
    this.stopping.signal.addEventListener("abort", () => clearInterval(resync), { once: true });
    const leader = this.opts.leaderElection;
    this.running = leader
      ? new LeaderElector(this.opts.kubeConfig, { ...leader, logger: this.log, now: this.opts.now }).run(
          this.stopping.signal,
          (signal) => this.work(signal),
        )
      : this.work(this.stopping.signal);
  }

  /** Stops acting at once, as a killed replica would; the lease is left to expire unless `release`. */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopping.abort();
    this.queue.close();
    await this.running;
    if (opts.release && this.opts.leaderElection) {
      await new LeaderElector(this.opts.kubeConfig, {
        ...this.opts.leaderElection,
        logger: this.log,
      }).release();
    }
    await this.informers.stop();
    // Idle keep-alive sockets to the API server; a client still in use opens new ones.
    connectionReuse(this.opts.kubeConfig).close();
  }

  private async work(signal: AbortSignal): Promise<void> {
    this.leading = true;
    this.enqueueAll();
    try {
      for (let key = await this.queue.next(signal); key !== undefined; key = await this.queue.next(signal)) {
        await this.process(key);
      }
    } finally {
      this.leading = false;
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const { requeueAfterMs } = await this.reconciler.reconcile(key);
      this.errors.delete(key);
      if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
    } catch (err) {
      const failures = (this.errors.get(key) ?? 0) + 1;
      this.errors.set(key, failures);
      const delay = Math.min(MAX_ERROR_BACKOFF_MS, 100 * 2 ** failures);
      this.log.error({ err, job: key, retryInMs: delay }, "Failed to reconcile TrainingJob");
      this.queue.addAfter(key, delay);
    } finally {
      this.queue.done(key);
    }
  }

  /** Queues every job now, as the periodic resync does. */
  resync(): void {
    this.enqueueAll();
  }

  private enqueueAll(): void {
    for (const j of this.informers.jobs()) this.queue.add(jobKey(j.metadata.namespace, j.metadata.name));
  }

  /** Capacity changed: every job still waiting for admission gets another look. */
  private enqueueWaiting(): void {
    for (const j of this.informers.jobs()) {
      const phase = j.status?.phase;
      if (!isActive(phase) && !isFinished(phase))
        this.queue.add(jobKey(j.metadata.namespace, j.metadata.name));
    }
  }

  private onChange({ kind, verb, object }: Change): void {
    const ns = object.metadata?.namespace ?? "";
    const job = object.metadata?.labels?.[LABEL_JOB];
    if (kind === "job") {
      this.queue.add(jobKey(ns, object.metadata?.name ?? ""));
      const { status, metadata } = object as { status?: { phase?: string; observedGeneration?: number } } & {
        metadata?: { generation?: number; deletionTimestamp?: unknown };
      };
      const phase = status?.phase;
      // A new job may go ahead of waiting ones; a finished, deleted or suspended one frees capacity.
      const freed = verb !== "update" || isFinished(phase) || phase === "Suspended";
      const respecced =
        metadata?.generation !== status?.observedGeneration || metadata?.deletionTimestamp !== undefined;
      if (freed || respecced) this.changed();
    } else if (kind === "pod" || kind === "service") {
      if (job) this.queue.add(jobKey(ns, job));
    } else if (kind === "node" || verb === "delete" || (verb === "add" && !job)) {
      // A node changed, a pod stopped holding resources, or another workload's pod took some.
      this.changed();
    }
  }

  private changed(): void {
    this.worldVersion++;
    this.enqueueWaiting();
  }
}
