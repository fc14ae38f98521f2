import type { V1Pod } from "@kubernetes/client-node";
import type { Phase, TrainingJobStatus } from "../api/types.js";
import type { Admission } from "./admission.js";
import { type ConditionUpdate, setPhaseCondition } from "./conditions.js";
import { backoffSeconds, isRetryable } from "./failure.js";
import { podName } from "./names.js";
import {
  failureOf,
  isTerminal,
  isUnscheduled,
  nodeStatusOf,
  podAttempt,
  podIndex,
  type Termination,
} from "./pods.js";
import type { StoredJob } from "./podspec.js";
import { ConditionType, Reason } from "./reasons.js";

export interface PlanInput {
  job: StoredJob;
  /** Pods the job owns, from every attempt. */
  pods: V1Pod[];
  serviceExists: boolean;
  /** This job's admission decision; only consulted while the job waits. */
  admission?: Admission;
  now: Date;
  /** Admitted pods left unscheduled this long are released and the job queued again. */
  pendingTimeoutSeconds: number;
}

export interface JobEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** What reconcile must do to bring the cluster to the job's desired state. */
export interface Plan {
  status: TrainingJobStatus;
  createService: boolean;
  createPods: number[];
  deletePods: string[];
  deleteJob: boolean;
  /** Reconcile again after this long even if nothing changes (backoff, deadline, TTL, timeouts). */
  requeueAfterMs?: number;
  events: JobEvent[];
}

const ACTIVE: ReadonlySet<string> = new Set(["Admitted", "Running", "Restarting"]);
export const isActive = (phase: string | undefined): boolean => phase !== undefined && ACTIVE.has(phase);
export const isFinished = (phase: string | undefined): boolean => phase === "Succeeded" || phase === "Failed";

class Builder {
  readonly plan: Plan;
  private readonly generation: number;

  constructor(
    readonly input: PlanInput,
    readonly previous: TrainingJobStatus,
  ) {
    this.generation = input.job.metadata.generation as number;
    this.plan = {
      status: { ...previous, observedGeneration: this.generation },
      createService: false,
      createPods: [],
      deletePods: [],
      deleteJob: false,
      events: [],
    };
  }

  get status(): TrainingJobStatus {
    return this.plan.status;
  }

  transition(phase: Phase, update: Omit<ConditionUpdate, "type" | "status">, warning = false): void {
    const status = this.plan.status;
    const cond = { type: ConditionType[phase], status: "True" as const, ...update };
    status.conditions = setPhaseCondition(status.conditions, cond, this.input.now, this.generation);
    if (this.previous.phase !== phase) {
      this.plan.events.push({
        type: warning ? "Warning" : "Normal",
        reason: update.reason,
        message: update.message,
      });
    }
    status.phase = phase;
  }

  requeueAfter(ms: number): void {
    const at = Math.max(0, ms);
    this.plan.requeueAfterMs = Math.min(this.plan.requeueAfterMs ?? at, at);
  }

  deleteAll(pods: V1Pod[]): void {
    const names = pods.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!);
    this.plan.deletePods.push(...names.filter((n) => !this.plan.deletePods.includes(n)));
  }
}

const seconds = (a: Date, b: Date) => (b.getTime() - a.getTime()) / 1000;

function finished(b: Builder): void {
  const { job, now } = b.input;
  b.deleteAll(b.input.pods.filter((p) => !isTerminal(p)));
  const ttl = job.spec.ttlSecondsAfterFinished;
  const done = b.status.completionTime;
  if (ttl === undefined || done === undefined) return;
  const left = ttl - seconds(new Date(done), now);
  if (left <= 0) b.plan.deleteJob = true;
  else b.requeueAfter(left * 1000);
}

function suspend(b: Builder): void {
  b.deleteAll(b.input.pods);
  b.status.nodes = [];
  // As for a Kubernetes Job, the deadline counts running time: it starts again on resume.
  delete b.status.startTime;
  delete b.status.restartAt;
  b.transition("Suspended", { reason: Reason.Suspended, message: "suspended: pods deleted, job kept" });
}

function fail(b: Builder, reason: Reason, message: string): void {
  b.deleteAll(b.input.pods.filter((p) => !isTerminal(p)));
  b.status.completionTime = b.input.now.toISOString();
  delete b.status.restartAt;
  b.transition("Failed", { reason, message }, true);
}

/** True when the deadline has passed (and the job was failed); otherwise schedules the check. */
function deadlinePassed(b: Builder): boolean {
  const limit = b.input.job.spec.activeDeadlineSeconds;
  const start = b.status.startTime;
  if (limit === undefined || start === undefined) return false;
  const left = limit - seconds(new Date(start), b.input.now);
  if (left > 0) {
    b.requeueAfter(left * 1000);
    return false;
  }
  fail(b, Reason.DeadlineExceeded, `ran longer than activeDeadlineSeconds (${limit}s)`);
  return true;
}

function createMissing(b: Builder, current: V1Pod[]): void {
  const { job, pods } = b.input;
  if (!b.input.serviceExists) b.plan.createService = true;
  const taken = new Set(pods.map((p) => p.metadata?.name));
  for (let i = 0; i < job.spec.numNodes; i++) {
    if (!current.some((p) => podIndex(p) === i) && !taken.has(podName(job.metadata.name, i))) {
      b.plan.createPods.push(i);
    }
  }
}

function waiting(b: Builder, current: V1Pod[]): void {
  const { admission, now } = b.input;
  if (!admission?.admit) {
    b.deleteAll(current);
    b.status.admission = admission?.message ?? "waiting for an admission decision";
    const reason = admission ? Reason[admission.reason] : Reason.InsufficientGpus;
    b.transition("Queued", { reason, message: b.status.admission });
    return;
  }
  b.status.admission = admission.message;
  b.status.startTime ??= now.toISOString();
  b.status.nodes = [];
  const resumed = b.previous.phase === "Suspended";
  b.transition("Admitted", {
    reason: resumed ? Reason.Resumed : Reason.Admitted,
    message: admission.message,
  });
  createMissing(b, current);
}

function describe(t: Termination): string {
  const code = t.exitCode === undefined ? "" : ` with exit code ${t.exitCode}`;
  return `node ${t.index} (${t.podName}) failed${code}: ${t.reason}`;
}

function restartOrFail(b: Builder, t: Termination, current: V1Pod[]): void {
  const policy = b.input.job.spec.failurePolicy;
  const restarts = b.status.restarts ?? 0;
  const retryable = t.infrastructure || (t.exitCode !== undefined && isRetryable(t.exitCode, policy));
  if (!retryable) {
    fail(b, Reason.PermanentExit, `${describe(t)} (not retryable)`);
    return;
  }
  if (restarts >= policy.maxRestarts) {
    fail(b, Reason.RestartsExhausted, `${describe(t)}; maxRestarts (${policy.maxRestarts}) reached`);
    return;
  }
  const delay = backoffSeconds(restarts, policy);
  b.deleteAll(current);
  b.status.restarts = restarts + 1;
  b.status.restartAt = new Date(b.input.now.getTime() + delay * 1000).toISOString();
  const reason = t.reason === Reason.PodLost ? Reason.PodLost : Reason.RetryableExit;
  b.transition(
    "Restarting",
    { reason, message: `${describe(t)}; restart ${restarts + 1} in ${delay}s` },
    true,
  );
  b.requeueAfter(delay * 1000);
}

function firstFailure(b: Builder, current: V1Pod[]): Termination | undefined {
  const failed = current
    .filter((p) => p.status?.phase === "Failed")
    .sort((x, y) => podIndex(x) - podIndex(y));
  if (failed[0]) return failureOf(failed[0]);
  if (b.previous.phase !== "Running") return undefined;
  const { job } = b.input;
  for (let i = 0; i < job.spec.numNodes; i++) {
    const pod = current.find((p) => podIndex(p) === i);
    if (!pod || pod.metadata?.deletionTimestamp) {
      return {
        index: i,
        podName: podName(job.metadata.name, i),
        reason: Reason.PodLost,
        infrastructure: true,
      };
    }
  }
  return undefined;
}

/**
 * When the gang has waited too long to start: its oldest unscheduled pod, or, when some pods could not
 * even be created (quota, a refused spec), the time it was admitted. Undefined when nothing waits.
 */
function waitingSince(b: Builder, current: V1Pod[]): number | undefined {
  const { now, job } = b.input;
  const times = current
    .filter(isUnscheduled)
    .map((p) => new Date(p.metadata?.creationTimestamp ?? now).getTime());
  if (current.length < job.spec.numNodes) {
    const admitted = b.status.conditions?.find((c) => c.type === ConditionType.Admitted)?.lastTransitionTime;
    if (admitted) times.push(new Date(admitted).getTime());
  }
  return times.length === 0 ? undefined : Math.min(...times);
}

function releaseIfStuck(b: Builder, current: V1Pod[]): boolean {
  const { now, pendingTimeoutSeconds } = b.input;
  const since = waitingSince(b, current);
  if (since === undefined) return false;
  const left = pendingTimeoutSeconds - seconds(new Date(since), now);
  if (left > 0) {
    b.requeueAfter(left * 1000);
    return false;
  }
  b.deleteAll(current);
  b.status.nodes = [];
  delete b.status.startTime;
  b.status.admission = `released: the gang did not start within ${pendingTimeoutSeconds}s`;
  b.transition("Queued", { reason: Reason.Unschedulable, message: b.status.admission }, true);
  return true;
}

function active(b: Builder, current: V1Pod[]): void {
  const { job } = b.input;
  b.status.nodes = current.map(nodeStatusOf).sort((x, y) => x.index - y.index);
  const failure = firstFailure(b, current);
  if (failure) {
    restartOrFail(b, failure, current);
    return;
  }
  const n = job.spec.numNodes;
  const succeeded = current.filter((p) => p.status?.phase === "Succeeded").length;
  if (succeeded === n) {
    b.status.completionTime = b.input.now.toISOString();
    b.transition("Succeeded", { reason: Reason.AllNodesSucceeded, message: `all ${n} nodes succeeded` });
    return;
  }
  const started = current.filter(
    (p) => p.status?.phase === "Running" || p.status?.phase === "Succeeded",
  ).length;
  if (started === n) {
    b.transition("Running", { reason: Reason.AllNodesRunning, message: `all ${n} nodes running` });
    return;
  }
  if (releaseIfStuck(b, current)) return;
  createMissing(b, current);
}

function restarting(b: Builder, current: V1Pod[]): void {
  const at = b.status.restartAt ? new Date(b.status.restartAt).getTime() : 0;
  const wait = at - b.input.now.getTime();
  if (wait > 0) {
    b.requeueAfter(wait);
    return;
  }
  delete b.status.restartAt;
  b.status.nodes = [];
  const message = `restart ${b.status.restarts ?? 0}: recreating all ${b.input.job.spec.numNodes} nodes`;
  b.transition("Admitted", { reason: Reason.PodsCreated, message });
  createMissing(b, current);
}

/**
 * The whole decision for one job, with no I/O: from the job, its pods and the admission decision to
 * the status to write and the objects to create or delete. Calling it again on the result's world
 * asks for nothing new, which is what makes reconcile idempotent.
 */
export function planJob(input: PlanInput): Plan {
  const b = new Builder(input, structuredClone(input.job.status ?? {}));
  const phase = b.previous.phase;
  const attempt = b.previous.restarts ?? 0;
  if (input.job.metadata.deletionTimestamp) return b.plan;
  if (isFinished(phase)) {
    finished(b);
    return b.plan;
  }
  if (input.job.spec.suspend) {
    suspend(b);
    return b.plan;
  }
  b.deleteAll(input.pods.filter((p) => podAttempt(p) !== attempt));
  // A terminating pod (a suspend, a restart) is not part of the gang: a job resumed within its grace
  // period waits for the name to be free instead of counting the old pod as running, then losing it.
  const current = input.pods.filter((p) => podAttempt(p) === attempt && !p.metadata?.deletionTimestamp);
  if (isActive(phase) && deadlinePassed(b)) return b.plan;
  if (phase === "Restarting") restarting(b, current);
  else if (isActive(phase)) active(b, current);
  else waiting(b, current);
  return b.plan;
}
