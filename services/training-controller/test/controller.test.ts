import { jest } from "@jest/globals";
import { Registry } from "@sloughgpt/runtime";
import { ApiError } from "@sloughgpt/testing";
import fc from "fast-check";
import { TrainingController } from "../src/controller/controller.js";
import { Cluster, logger, NS } from "./harness.js";

jest.setTimeout(30_000);

let cluster: Cluster;
let controller: TrainingController;
let published: string[];

async function startController(extra: Partial<ConstructorParameters<typeof TrainingController>[0]> = {}) {
  const c = new TrainingController({
    kubeConfig: cluster.kc,
    logger,
    namespace: NS,
    now: cluster.clock.now,
    resyncSeconds: 3600,
    publish: (subject) => published.push(subject),
    ...extra,
  });
  await c.start();
  return c;
}

afterEach(async () => {
  await controller?.stop();
  await cluster.close();
});

describe("the running controller", () => {
  beforeEach(async () => {
    published = [];
    cluster = await new Cluster().start([
      { name: "gpu-0", gpus: 8 },
      { name: "gpu-1", gpus: 8 },
    ]);
    controller = await startController({ registry: new Registry() });
  });

  test("admits whole gangs by priority then age, queues the rest with the reason, and admits them as capacity frees", async () => {
    const gpus = (n: number) => ({ resourcesPerNode: { limits: { "nvidia.com/gpu": n } } });
    await cluster.submit("first", { numNodes: 2, ...gpus(8) });
    await cluster.untilRunning("first", 2);
    await cluster.submit("low", { numNodes: 1, ...gpus(8) });
    await cluster.submit("high", { numNodes: 2, ...gpus(8), priority: 10 });
    const queued = await cluster.until(async () => {
      const [low, high] = [await cluster.status("low"), await cluster.status("high")];
      const settled = low.admission?.startsWith("waiting behind") && high.phase === "Queued";
      return settled ? { low, high } : undefined;
    });
    expect(queued.high.admission).toBe("needs 16 GPUs, 0 free");
    expect(queued.low.admission).toBe("waiting behind ml/high; needs 8 GPUs, 0 free");
    expect(await cluster.pods("high")).toEqual([]);

    for (const pod of ["first-node-0", "first-node-1"]) cluster.kubelet.finish(NS, pod, 0);
    await cluster.untilPhase("first", "Succeeded");
    await cluster.untilRunning("high", 2);
    expect((await cluster.status("low")).phase).toBe("Queued");
    expect(await cluster.pods("low")).toEqual([]);
    expect(published).toEqual(
      expect.arrayContaining([
        "training.job.ml.first.admitted",
        "training.job.ml.first.running",
        "training.job.ml.first.succeeded",
      ]),
    );
  });

  test("a retryable exit restarts the whole gang, which then succeeds and publishes its model", async () => {
    await cluster.submit("retry", {
      numNodes: 2,
      failurePolicy: { backoffSeconds: 0 },
      output: { modelId: "retry-v1", path: "/ckpt/final" },
    });
    const first = await cluster.untilRunning("retry", 2);
    // A dropped watch connection in the middle changes nothing: the informers resume.
    cluster.server.closeWatches();
    cluster.kubelet.finish(NS, "retry-node-0", 143);
    const second = await cluster.until(async () => {
      const pods = await cluster.pods("retry");
      return pods.length === 2 &&
        pods.every(
          (p) => p.status?.phase === "Running" && p.metadata?.labels?.["sloughgpt.io/attempt"] === "1",
        )
        ? pods
        : undefined;
    });
    expect(second.map((p) => p.metadata?.uid)).not.toContain(first[1]!.metadata?.uid);
    for (const pod of second) cluster.kubelet.finish(NS, pod.metadata!.name!, 0);
    expect(await cluster.untilPhase("retry", "Succeeded")).toMatchObject({ restarts: 1 });
    // Events are published after the status is written.
    await cluster.until(() => published.includes("model.published"));
    expect(
      published.filter((s) => s.startsWith("training.job.ml.retry.") || s === "model.published"),
    ).toEqual([
      "training.job.ml.retry.admitted",
      "training.job.ml.retry.running",
      "training.job.ml.retry.restarting",
      "training.job.ml.retry.admitted",
      "training.job.ml.retry.running",
      "training.job.ml.retry.succeeded",
      "model.published",
    ]);
  });

  test("exhausted restarts fail the job with the last exit code", async () => {
    cluster.kubelet.setScript(() => ({ exitCode: 137, reason: "OOMKilled" }));
    await cluster.submit("oom", { failurePolicy: { maxRestarts: 2, backoffSeconds: 0 } });
    const failed = await cluster.untilPhase("oom", "Failed");
    expect(failed.restarts).toBe(2);
    expect(failed.conditions?.find((c) => c.type === "Failed")).toMatchObject({
      reason: "RestartsExhausted",
      message: "node 0 (oom-node-0) failed with exit code 137: OOMKilled; maxRestarts (2) reached",
    });
  });

  test("a job running past activeDeadlineSeconds fails with DeadlineExceeded and its pods are deleted", async () => {
    await cluster.submit("slow", { activeDeadlineSeconds: 600 });
    await cluster.untilRunning("slow", 1);
    cluster.clock.advance(601);
    controller.resync();
    const failed = await cluster.untilPhase("slow", "Failed");
    expect(failed.conditions?.find((c) => c.type === "Failed")?.reason).toBe("DeadlineExceeded");
    await cluster.until(async () => (await cluster.pods("slow")).length === 0);
  });

  test("suspend deletes the pods and keeps the job; resume runs it again", async () => {
    await cluster.submit("pause", { numNodes: 2 });
    await cluster.untilRunning("pause", 2);
    await cluster.patchSpec("pause", { suspend: true });
    await cluster.untilPhase("pause", "Suspended");
    await cluster.until(async () => (await cluster.pods("pause")).length === 0);
    await cluster.patchSpec("pause", { suspend: false });
    await cluster.untilRunning("pause", 2);
    await cluster.untilPhase("pause", "Running");
    const events = await cluster.core.listNamespacedEvent({ namespace: NS });
    expect(events.items.map((e) => e.reason)).toEqual([
      "Admitted",
      "AllNodesRunning",
      "Suspended",
      "Resumed",
      "AllNodesRunning",
    ]);
  });

  test("a finished job is deleted after ttlSecondsAfterFinished, with its pods", async () => {
    await cluster.submit("ttl", { ttlSecondsAfterFinished: 3600 });
    await cluster.untilRunning("ttl", 1);
    cluster.kubelet.finish(NS, "ttl-node-0", 0);
    await cluster.untilPhase("ttl", "Succeeded");
    cluster.clock.advance(3600);
    controller.resync();
    await cluster.until(async () => (await cluster.job("ttl")) === undefined);
    await cluster.until(async () => (await cluster.pods("ttl")).length === 0);
  });

  test("never stuck: random pod failures always end Succeeded or Failed within maxRestarts", async () => {
    const outcome = fc.oneof(
      fc.constant(0),
      fc.constant(1),
      fc.constant(137),
      fc.constant(143),
      fc.constant(-1),
    );
    let run = 0;
    // The controller may have deleted the pod since the list (a gang restart): then there is nothing to end.
    const finishIfThere = (pod: string) => {
      try {
        cluster.kubelet.finish(NS, pod, 0);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
      }
    };
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.array(outcome, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 5 }),
        async (numNodes, maxRestarts, attempts) => {
          const name = `prop-${run++}`;
          // Attempts beyond the script succeed, so every job has a way to finish.
          const codeFor = (attempt: number, index: number) => attempts[attempt]?.[index] ?? 0;
          cluster.kubelet.setScript((pod) => {
            if (pod.metadata.labels?.["sloughgpt.io/job-name"] !== name) return undefined;
            const code = codeFor(
              Number(pod.metadata.labels["sloughgpt.io/attempt"]),
              Number(pod.metadata.labels["sloughgpt.io/node-index"]),
            );
            return code === -1 ? undefined : { exitCode: code };
          });
          await cluster.submit(name, { numNodes, failurePolicy: { maxRestarts, backoffSeconds: 0 } });
          const end = await cluster.until(async () => {
            const pods = await cluster.pods(name);
            // Nodes scripted to hang (-1) are ended with 0 once every node has exited or hangs.
            const labels = (p: (typeof pods)[number]) => p.metadata?.labels ?? {};
            const hangs = (p: (typeof pods)[number]) =>
              p.status?.phase === "Running" &&
              codeFor(
                Number(labels(p)["sloughgpt.io/attempt"]),
                Number(labels(p)["sloughgpt.io/node-index"]),
              ) === -1;
            const terminal = (p: (typeof pods)[number]) =>
              p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
            if (pods.length === numNodes && pods.every((p) => terminal(p) || hangs(p))) {
              for (const p of pods.filter(hangs)) finishIfThere(p.metadata!.name!);
            }
            const s = await cluster.status(name);
            return s.phase === "Succeeded" || s.phase === "Failed" ? s : undefined;
          });
          expect(end.restarts ?? 0).toBeLessThanOrEqual(maxRestarts);
          const reason = end.conditions?.find((c) => c.type === end.phase)?.reason;
          expect(["AllNodesSucceeded", "PermanentExit", "RestartsExhausted"]).toContain(reason);
          if (end.phase === "Succeeded") {
            const attempt = end.restarts ?? 0;
            expect(
              Array.from({ length: numNodes }, (_, i) => codeFor(attempt, i)).every(
                (c) => c === 0 || c === -1,
              ),
            ).toBe(true);
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("start-up", () => {
  test("waits until every cache has listed, retrying failed lists, before it acts", async () => {
    published = [];
    cluster = await new Cluster().start([{ name: "gpu-0", gpus: 8 }]);
    await cluster.submit("early", { resourcesPerNode: { limits: { "nvidia.com/gpu": 8 } } });
    cluster.server.failNext({ method: "GET", path: /\/api\/v1\/nodes$/, times: 2 });
    controller = await startController({ watchRestartMs: 10 });
    expect(controller.informers.synced()).toBe(true);
    // Had it acted on an empty node cache, the job would have been queued as unplaceable first.
    expect((await cluster.untilPhase("early", "Running")).conditions?.map((c) => c.type)).toEqual([
      "Admitted",
      "Running",
    ]);
  });
});

describe("leader election", () => {
  test("only the lease holder acts; when it dies the standby takes over once the lease expires", async () => {
    published = [];
    cluster = await new Cluster().start([{ name: "cpu-0", gpus: 0 }]);
    const lease = {
      namespace: NS,
      name: "training-controller",
      leaseDurationSeconds: 15,
      retryPeriodSeconds: 0.02,
    };
    controller = await startController({ leaderElection: { ...lease, identity: "a" } });
    await cluster.until(() => controller.isLeader);
    const standby = await startController({ leaderElection: { ...lease, identity: "b" } });
    try {
      await cluster.submit("one", {});
      await cluster.untilPhase("one", "Running");
      expect(standby.isLeader).toBe(false);

      await controller.stop();
      await cluster.submit("two", {});
      cluster.clock.advance(10);
      // Within the lease duration nobody acts on the new job.
      await cluster.until(async () => (await cluster.job("two")) !== undefined);
      expect([standby.isLeader, (await cluster.status("two")).phase]).toEqual([false, undefined]);

      cluster.clock.advance(6);
      await cluster.untilPhase("two", "Running");
      expect(standby.isLeader).toBe(true);
      const held = await cluster.kc
        .makeApiClient((await import("@kubernetes/client-node")).CoordinationV1Api)
        .readNamespacedLease({ namespace: NS, name: "training-controller" });
      expect([held.spec?.holderIdentity, held.spec?.leaseTransitions]).toEqual(["b", 1]);
    } finally {
      await standby.stop();
    }
  });
});
