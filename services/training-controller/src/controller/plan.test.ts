import type { V1Pod } from "@kubernetes/client-node";
import type { TrainingJobStatus } from "../api/types.js";
import type { Admission } from "./admission.js";
import { type PlanInput, planJob } from "./plan.js";
import { pod, storedJob } from "./testjob.js";

const now = new Date("2026-01-01T01:00:00Z");
const admitted: Admission = { admit: true, message: "admitted: 16 GPUs on 2 nodes" };
const full: Admission = { admit: false, reason: "InsufficientGpus", message: "needs 16 GPUs, 8 free" };

function input(
  status: TrainingJobStatus | undefined,
  pods: (job: ReturnType<typeof storedJob>) => V1Pod[],
  extra: Partial<PlanInput> = {},
  spec: Record<string, unknown> = {},
): PlanInput {
  const job = storedJob({ numNodes: 2, failurePolicy: { maxRestarts: 2, backoffSeconds: 10 }, ...spec });
  job.status = status;
  return { job, pods: pods(job), serviceExists: true, now, pendingTimeoutSeconds: 300, ...extra };
}

const running: TrainingJobStatus = { phase: "Running", restarts: 0, startTime: "2026-01-01T00:30:00Z" };
const trueCondition = (status: TrainingJobStatus) => status.conditions?.find((c) => c.status === "True");

describe("planJob", () => {
  test("a new job that does not fit is Queued with the reason, and nothing is created", () => {
    const plan = planJob(input(undefined, () => [], { admission: full }));
    expect(plan.status).toMatchObject({
      phase: "Queued",
      admission: "needs 16 GPUs, 8 free",
      observedGeneration: 1,
    });
    expect(trueCondition(plan.status)).toMatchObject({ type: "Queued", reason: "InsufficientGpus" });
    expect([plan.createPods, plan.createService]).toEqual([[], false]);
  });

  test("an admitted job gets its Service and every pod at once", () => {
    const plan = planJob(input({ phase: "Queued" }, () => [], { admission: admitted, serviceExists: false }));
    expect(plan.status.phase).toBe("Admitted");
    expect(plan.status.startTime).toBe(now.toISOString());
    expect([plan.createPods, plan.createService]).toEqual([[0, 1], true]);
    expect(plan.events).toEqual([{ type: "Normal", reason: "Admitted", message: admitted.message }]);
  });

  test("running once every node runs; planning again changes nothing", () => {
    const first = planJob(input({ phase: "Admitted" }, (j) => [pod(j, 0, "Running"), pod(j, 1, "Running")]));
    expect(first.status.phase).toBe("Running");
    const again = input(first.status, (j) => [pod(j, 0, "Running"), pod(j, 1, "Running")]);
    const second = planJob(again);
    expect(second.status).toEqual(first.status);
    expect([second.createPods, second.deletePods, second.events]).toEqual([[], [], []]);
  });

  test.each([
    ["signal-killed (137) restarts after backoff", { exit: 137 }, {}, 0, "Restarting", "RetryableExit"],
    ["an eviction restarts", { evicted: true as const }, {}, 0, "Restarting", "RetryableExit"],
    ["a failed DNS wait restarts", { initExit: 1 }, {}, 0, "Restarting", "RetryableExit"],
    ["exit 1 fails at once", { exit: 1 }, {}, 0, "Failed", "PermanentExit"],
    [
      "exit 1 listed as retryable restarts",
      { exit: 1 },
      { retryableExitCodes: [1] },
      0,
      "Restarting",
      "RetryableExit",
    ],
    ["137 not in the list fails", { exit: 137 }, { retryableExitCodes: [1] }, 0, "Failed", "PermanentExit"],
    ["137 after maxRestarts fails", { exit: 137 }, {}, 2, "Failed", "RestartsExhausted"],
  ] as const)("%s", (_name, state, policy, restarts, phase, reason) => {
    const plan = planJob(
      input(
        { ...running, restarts },
        (j) => [pod(j, 0, "Running", restarts), pod(j, 1, state, restarts)],
        {},
        { failurePolicy: { maxRestarts: 2, backoffSeconds: 10, ...policy } },
      ),
    );
    expect(plan.status.phase).toBe(phase);
    expect(trueCondition(plan.status)?.reason).toBe(reason);
    expect(plan.deletePods).toEqual(phase === "Failed" ? ["llm-node-0"] : ["llm-node-0", "llm-node-1"]);
    expect(plan.events[0]?.type).toBe("Warning");
  });

  test("a permanent failure names the node and its exit code", () => {
    const plan = planJob(
      input(running, (j) => [pod(j, 0, "Running"), pod(j, 1, { exit: 3, reason: "Error" })]),
    );
    expect(trueCondition(plan.status)?.message).toBe(
      "node 1 (llm-node-1) failed with exit code 3: Error (not retryable)",
    );
    expect(plan.status.nodes).toEqual([
      { index: 0, podName: "llm-node-0", phase: "Running" },
      { index: 1, podName: "llm-node-1", phase: "Failed", exitCode: 3, reason: "Error" },
    ]);
    expect(plan.status.completionTime).toBe(now.toISOString());
  });

  test("the backoff doubles and the restart waits for it", () => {
    const plan = planJob(
      input({ ...running, restarts: 1 }, (j) => [pod(j, 0, { exit: 143 }, 1), pod(j, 1, "Running", 1)]),
    );
    expect(plan.status).toMatchObject({
      phase: "Restarting",
      restarts: 2,
      restartAt: "2026-01-01T01:00:20.000Z",
    });
    expect(plan.requeueAfterMs).toBe(20_000);
    const early = planJob(input(plan.status, () => [], { now: new Date("2026-01-01T01:00:10Z") }));
    expect([early.status.phase, early.createPods, early.requeueAfterMs]).toEqual(["Restarting", [], 10_000]);
  });

  test("after the backoff the whole gang is recreated as the next attempt, once the old pods are gone", () => {
    const status: TrainingJobStatus = {
      ...running,
      phase: "Restarting",
      restarts: 1,
      restartAt: "2026-01-01T00:59:00Z",
    };
    const blocked = planJob(input(status, (j) => [pod(j, 1, { exit: 137 }, 0)]));
    expect(blocked.deletePods).toEqual(["llm-node-1"]);
    expect(blocked.createPods).toEqual([0]);
    const clear = planJob(input(status, () => []));
    expect([clear.status.phase, clear.createPods]).toEqual(["Admitted", [0, 1]]);
  });

  test("a pod that disappears from a running job restarts the gang", () => {
    const plan = planJob(input(running, (j) => [pod(j, 0, "Running")]));
    expect(plan.status.phase).toBe("Restarting");
    expect(trueCondition(plan.status)?.reason).toBe("PodLost");
  });

  test("all nodes succeeded → Succeeded; then TTL deletes the job", () => {
    const done = planJob(
      input(
        running,
        (j) => [pod(j, 0, "Succeeded"), pod(j, 1, "Succeeded")],
        {},
        { ttlSecondsAfterFinished: 60 },
      ),
    );
    expect(done.status).toMatchObject({ phase: "Succeeded", completionTime: now.toISOString() });
    const later = (s: number) => new Date(now.getTime() + s * 1000);
    const waiting = planJob(
      input(done.status, () => [], { now: later(30) }, { ttlSecondsAfterFinished: 60 }),
    );
    expect([waiting.deleteJob, waiting.requeueAfterMs]).toEqual([false, 30_000]);
    expect(
      planJob(input(done.status, () => [], { now: later(60) }, { ttlSecondsAfterFinished: 60 })).deleteJob,
    ).toBe(true);
  });

  test("past activeDeadlineSeconds the job fails with DeadlineExceeded; before it, a check is scheduled", () => {
    const spec = { activeDeadlineSeconds: 1800 };
    const over = planJob(input(running, (j) => [pod(j, 0, "Running"), pod(j, 1, "Running")], {}, spec));
    expect(trueCondition(over.status)).toMatchObject({ type: "Failed", reason: "DeadlineExceeded" });
    expect(over.deletePods).toEqual(["llm-node-0", "llm-node-1"]);
    const under = planJob(
      input(
        running,
        (j) => [pod(j, 0, "Running"), pod(j, 1, "Running")],
        {},
        { activeDeadlineSeconds: 3600 },
      ),
    );
    expect([under.status.phase, under.requeueAfterMs]).toEqual(["Running", 1_800_000]);
  });

  test("suspend deletes the pods and keeps the job; resume re-admits it", () => {
    const suspended = planJob(
      input(running, (j) => [pod(j, 0, "Running"), pod(j, 1, "Running")], {}, { suspend: true }),
    );
    expect(suspended.status.phase).toBe("Suspended");
    expect(suspended.deletePods).toEqual(["llm-node-0", "llm-node-1"]);
    expect(suspended.deleteJob).toBe(false);
    const resumed = planJob(input(suspended.status, () => [], { admission: admitted }));
    expect(resumed.status.phase).toBe("Admitted");
    expect(trueCondition(resumed.status)?.reason).toBe("Resumed");
    expect(resumed.createPods).toEqual([0, 1]);
  });

  test("a job resumed while its old pods terminate waits for them, and is not restarted when they go", () => {
    const suspended = planJob(
      input(running, (j) => [pod(j, 0, "Running"), pod(j, 1, "Running")], {}, { suspend: true }),
    );
    const terminating = (j: ReturnType<typeof storedJob>) =>
      [pod(j, 0, "Running"), pod(j, 1, "Running")].map((p) => ({
        ...p,
        metadata: { ...p.metadata, deletionTimestamp: new Date("2026-01-01T00:59:00Z") },
      }));
    const resumed = planJob(input(suspended.status, terminating, { admission: admitted }));
    expect(resumed.status.phase).toBe("Admitted");
    expect(resumed.createPods).toEqual([]);
    // Looked at again while the old pods still terminate: not Running on their account.
    const again = planJob(input(resumed.status, terminating, { admission: admitted }));
    expect(again.status.phase).toBe("Admitted");
    expect(again.status.restarts ?? 0).toBe(0);
    // Once they are gone the gang is created, still without a restart.
    const gone = planJob(input(again.status, () => [], { admission: admitted }));
    expect([gone.status.phase, gone.createPods, gone.status.restarts ?? 0]).toEqual(["Admitted", [0, 1], 0]);
  });

  test("admitted pods left unscheduled past the timeout are released and the job queued again", () => {
    const pods = (j: ReturnType<typeof storedJob>) => [
      pod(j, 0, "Scheduled", 0, "2026-01-01T00:50:00Z"),
      pod(j, 1, "Pending", 0, "2026-01-01T00:50:00Z"),
    ];
    const early = planJob(input({ phase: "Admitted" }, pods, { pendingTimeoutSeconds: 900 }));
    expect([early.status.phase, early.requeueAfterMs]).toEqual(["Admitted", 300_000]);
    const late = planJob(input({ phase: "Admitted" }, pods, { pendingTimeoutSeconds: 600 }));
    expect(late.status.phase).toBe("Queued");
    expect(trueCondition(late.status)?.reason).toBe("Unschedulable");
    expect(late.deletePods).toEqual(["llm-node-0", "llm-node-1"]);
  });

  test("an admitted job whose pods cannot be created is released after the timeout instead of waiting forever", async () => {
    const admittedAt = "2026-01-01T00:40:00Z";
    const status: TrainingJobStatus = {
      phase: "Admitted",
      conditions: [{ type: "Admitted", status: "True", reason: "Admitted", lastTransitionTime: admittedAt }],
    };
    const early = planJob(input(status, (j) => [pod(j, 0, "Running")], { pendingTimeoutSeconds: 1800 }));
    expect([early.status.phase, early.createPods, early.requeueAfterMs]).toEqual(["Admitted", [1], 600_000]);
    const late = planJob(input(status, (j) => [pod(j, 0, "Running")], { pendingTimeoutSeconds: 1200 }));
    expect(late.status.phase).toBe("Queued");
    expect(late.deletePods).toEqual(["llm-node-0"]);
  });

  test("a finished job deletes pods still running and keeps the others for their logs", () => {
    const status: TrainingJobStatus = { phase: "Failed", completionTime: now.toISOString() };
    const plan = planJob(input(status, (j) => [pod(j, 0, "Running"), pod(j, 1, { exit: 1 })]));
    expect(plan.deletePods).toEqual(["llm-node-0"]);
    expect(plan.status.phase).toBe("Failed");
  });

  test("pods of an earlier attempt are deleted", () => {
    const plan = planJob(
      input({ ...running, restarts: 1 }, (j) => [
        pod(j, 0, "Running", 0),
        pod(j, 0, "Running", 1),
        pod(j, 1, "Running", 1),
      ]),
    );
    expect(plan.deletePods).toEqual(["llm-node-0"]);
  });
});
