import type { V1Pod } from "@kubernetes/client-node";
import type { Logger } from "@sloughgpt/runtime";
import type { ZodError } from "zod";
import { trainingJobSpec } from "../api/types.js";
import { type Admission, type Demand, type GpuUse, planAdmission } from "./admission.js";
import { setPhaseCondition } from "./conditions.js";
import { phaseEvents } from "./events.js";
import { type ClusterWriter, ConflictError } from "./kube.js";
import type { ControllerMetrics } from "./metrics.js";
import { jobKey, LABEL_JOB, podName } from "./names.js";
import { isActive, isFinished, type Plan, planJob } from "./plan.js";
import { isTerminal, podAttempt } from "./pods.js";
import {
  buildPod,
  buildService,
  defaultPodOptions,
  gpusPerNode,
  type PodOptions,
  type StoredJob,
} from "./podspec.js";
import { ConditionType, Reason } from "./reasons.js";
import { type ClusterView, gpuUse, nodeCapacity } from "./view.js";

export interface ReconcilerOptions {
  view: ClusterView;
  writer: ClusterWriter;
  logger: Logger;
  now?: () => Date;
  pendingTimeoutSeconds?: number;
  podOptions?: PodOptions;
  /** Publishes `training.job.<ns>.<name>.<phase>` on every phase change (NATS in production). */
  publish?: (subject: string, payload: unknown) => void;
  metrics?: ControllerMetrics;
  /**
   * Bumped by the caller whenever capacity or demand changes in a way this controller did not plan
   * (nodes, foreign pods, jobs added, deleted, re-specced or finished). While it stays the same, one
   * admission plan serves every waiting job: carrying it out does not change it. Without it, the plan
   * is computed for each reconcile.
   */
  worldVersion?: () => number;
}

const MAX_CONFLICT_RETRIES = 5;

const rv = (job: StoredJob | undefined) => Number(job?.metadata.resourceVersion ?? 0);

export interface ReconcileResult {
  requeueAfterMs?: number;
}

/** One TrainingJob at a time: read the world, plan, write the difference. Safe to call any number of times. */
export class Reconciler {
  /** Jobs as this controller last wrote them, until the job cache catches up. */
  private readonly written = new Map<string, StoredJob>();
  private readonly specs = new Map<string, { generation: unknown; spec: StoredJob["spec"] }>();
  private plan?: { version: number; decisions: Map<string, Admission> };
  private readonly now: () => Date;
  private readonly log: Logger;

  constructor(private readonly opts: ReconcilerOptions) {
    this.now = opts.now ?? (() => new Date());
    this.log = opts.logger.child({ component: "reconciler" });
  }

  /** The newer of the cached job and the one this controller last wrote, with spec defaults applied. */
  private fresh(job: StoredJob): StoredJob {
    const key = jobKey(job.metadata.namespace, job.metadata.name);
    const mine = this.written.get(key);
    const latest = mine && mine.metadata.uid === job.metadata.uid && rv(mine) > rv(job) ? mine : job;
    if (latest === job) this.written.delete(key);
    return { ...latest, spec: this.spec(latest) };
  }

  /** Defaults applied once per spec generation: parsing every job on every admission adds up. */
  private spec(job: StoredJob): StoredJob["spec"] {
    const uid = job.metadata.uid;
    const cached = this.specs.get(uid);
    if (cached && cached.generation === job.metadata.generation && cached.generation !== undefined)
      return cached.spec;
    const spec = trainingJobSpec.parse(job.spec);
    this.specs.set(uid, { generation: job.metadata.generation, spec });
    return spec;
  }

  /** Every job with a usable spec; a job whose spec does not parse is failed by its own reconcile. */
  private jobs(): StoredJob[] {
    return this.opts.view.jobs().flatMap((j) => {
      try {
        return [this.fresh(j)];
      } catch {
        return [];
      }
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const started = performance.now();
    const [namespace, name] = key.split("/") as [string, string];
    let result = "ok";
    try {
      const cached = this.opts.view.job(namespace, name);
      if (!cached) {
        const gone = this.written.get(key)?.metadata.uid;
        if (gone) this.specs.delete(gone);
        this.written.delete(key);
        return {};
      }
      const parsed = trainingJobSpec.safeParse(cached.spec);
      if (!parsed.success) return await this.failInvalid(cached, parsed.error);
      return await this.withConflictRetry(this.fresh(cached));
    } catch (err) {
      result = "error";
      throw err;
    } finally {
      this.opts.metrics?.reconcileSeconds.observe({ result }, (performance.now() - started) / 1000);
    }
  }

  /**
   * A spec the API server let through but the controller cannot run (no CRD validation, an older
   * schema): the job fails with the problem instead of being retried forever.
   */
  private async failInvalid(job: StoredJob, error: ZodError): Promise<ReconcileResult> {
    if (job.status?.phase === "Failed") return {};
    const issue = error.issues[0];
    const message = `invalid spec: ${issue?.path.join(".") || "spec"}: ${issue?.message ?? "does not parse"}`;
    const now = this.now();
    const generation = (job.metadata.generation as number | undefined) ?? 0;
    const condition = {
      type: ConditionType.Failed,
      status: "True" as const,
      reason: Reason.InvalidSpec,
      message,
    };
    const status = {
      ...(job.status ?? {}),
      phase: "Failed" as const,
      completionTime: now.toISOString(),
      observedGeneration: generation,
      conditions: setPhaseCondition(job.status?.conditions, condition, now, generation),
    };
    await this.opts.writer.writeStatus({ ...job, status });
    await this.opts.writer
      .recordEvent(job, { type: "Warning", reason: Reason.InvalidSpec, message })
      .catch(() => undefined);
    this.log.warn(
      { job: jobKey(job.metadata.namespace, job.metadata.name), message },
      "Failed TrainingJob with an invalid spec",
    );
    return {};
  }

  private async withConflictRetry(initial: StoredJob): Promise<ReconcileResult> {
    let job = initial;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(job);
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw err;
        const latest = await this.opts.writer.readJob(job.metadata.namespace, job.metadata.name);
        if (!latest) return {};
        job = this.fresh(latest);
      }
    }
  }

  private podsOf(job: StoredJob): V1Pod[] {
    return this.opts.view
      .podsOf(job.metadata.namespace, job.metadata.name)
      .filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === job.metadata.uid));
  }

  private async once(job: StoredJob): Promise<ReconcileResult> {
    const phase = job.status?.phase;
    const waiting = !isActive(phase) && !isFinished(phase) && !job.spec.suspend;
    const plan = planJob({
      job,
      pods: this.podsOf(job),
      serviceExists: this.opts.view.serviceExists(job.metadata.namespace, job.metadata.name),
      admission: waiting ? this.admission(job) : undefined,
      now: this.now(),
      pendingTimeoutSeconds: this.opts.pendingTimeoutSeconds ?? 600,
    });
    const written = await this.writeStatus(job, plan);
    await this.act(written, plan);
    this.announce(written, phase, plan);
    return { requeueAfterMs: plan.requeueAfterMs };
  }

  private async writeStatus(job: StoredJob, plan: Plan): Promise<StoredJob> {
    if (JSON.stringify(plan.status) === JSON.stringify(job.status ?? {})) return job;
    const written = await this.opts.writer.writeStatus({ ...job, status: plan.status });
    const fresh = { ...written, spec: job.spec };
    this.written.set(jobKey(job.metadata.namespace, job.metadata.name), fresh);
    return fresh;
  }

  /** Deletions first (a restart needs the names free), then everything to create, concurrently. */
  private async act(job: StoredJob, plan: Plan): Promise<void> {
    const { writer } = this.opts;
    const { namespace, name } = job.metadata;
    const log = this.log.child({ job: jobKey(namespace, name) });
    await Promise.all(
      plan.deletePods.map(async (pod) => {
        await writer.deletePod(namespace, pod);
        log.info({ pod }, "Deleted pod");
      }),
    );
    const attempt = plan.status.restarts ?? 0;
    const podOptions = this.opts.podOptions ?? defaultPodOptions;
    await Promise.all([
      plan.createService &&
        writer
          .createService(buildService(job))
          .then(() => log.info({ service: name }, "Created headless service")),
      ...plan.createPods.map(async (index) => {
        await writer.createPod(buildPod(job, index, attempt, podOptions));
        log.info({ pod: podName(name, index), attempt }, "Created pod");
      }),
      ...plan.events.map((event) =>
        writer.recordEvent(job, event).catch((err) => {
          log.warn({ err, reason: event.reason }, "Failed to record a Kubernetes event");
        }),
      ),
    ]);
    if (plan.deleteJob) {
      await writer.deleteJob(job);
      log.info("Deleted finished job after its TTL");
    }
  }

  private announce(job: StoredJob, before: string | undefined, plan: Plan): void {
    const phase = plan.status.phase;
    if (!phase || phase === before) return;
    const { namespace, name } = job.metadata;
    const condition = plan.status.conditions?.find((c) => c.type === phase);
    this.log.info(
      { job: jobKey(namespace, name), from: before, phase, reason: condition?.reason },
      "Moved TrainingJob to a new phase",
    );
    for (const [subject, payload] of phaseEvents(job, plan.status, this.now()))
      this.opts.publish?.(subject, payload);
  }

  /** Admission is decided for every waiting job at once so that queue order holds across jobs. */
  private admission(job: StoredJob): Admission | undefined {
    const key = jobKey(job.metadata.namespace, job.metadata.name);
    const version = this.opts.worldVersion?.();
    if (version === undefined || this.plan?.version !== version || !this.plan.decisions.has(key)) {
      this.plan = { version: version ?? -1, decisions: this.planAll() };
    }
    return this.plan.decisions.get(key);
  }

  private planAll(): Map<string, Admission> {
    const byJob = new Map<string, V1Pod[]>();
    for (const p of this.opts.view.jobPods()) {
      const k = jobKey(p.metadata?.namespace ?? "", p.metadata?.labels?.[LABEL_JOB] ?? "");
      const list = byJob.get(k);
      if (list) list.push(p);
      else byJob.set(k, [p]);
    }
    const waiting: Demand[] = [];
    const reserved: GpuUse[] = [];
    for (const j of this.jobs()) {
      const phase = j.status?.phase;
      if (j.metadata.deletionTimestamp || isFinished(phase)) continue;
      const pods = byJob.get(jobKey(j.metadata.namespace, j.metadata.name)) ?? [];
      if (isActive(phase)) reserved.push(...unboundPods(j, pods));
      else if (!j.spec.suspend) waiting.push(demand(j));
    }
    return planAdmission({
      nodes: this.opts.view.nodes().map(nodeCapacity),
      used: this.opts.view.activePods().map(gpuUse),
      reserved,
      waiting,
    });
  }
}

/** An active job's pods of its current attempt not yet bound to a node still hold their GPUs. */
function unboundPods(job: StoredJob, pods: V1Pod[]): GpuUse[] {
  const gpus = gpusPerNode(job);
  if (gpus === 0) return [];
  const attempt = job.status?.restarts ?? 0;
  const owned = pods.filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === job.metadata.uid));
  const bound = owned.filter((p) => podAttempt(p) === attempt && !isTerminal(p) && p.spec?.nodeName);
  const missing = Math.max(0, job.spec.numNodes - bound.length);
  return Array.from({ length: missing }, () => ({ gpus, nodeSelector: job.spec.nodeSelector }));
}

function demand(job: StoredJob): Demand {
  return {
    key: jobKey(job.metadata.namespace, job.metadata.name),
    priority: job.spec.priority ?? 0,
    created: new Date((job.metadata.creationTimestamp as string | undefined) ?? 0).getTime(),
    numNodes: job.spec.numNodes,
    gpusPerNode: gpusPerNode(job),
    nodeSelector: job.spec.nodeSelector,
    queue: job.spec.queue,
  };
}
