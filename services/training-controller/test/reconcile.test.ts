import { jest } from "@jest/globals";
import type { V1Pod } from "@kubernetes/client-node";
import { KubeClusterWriter } from "../src/controller/kube.js";
import { Reconciler } from "../src/controller/reconciler.js";
import { Cluster, logger, NS } from "./harness.js";

jest.setTimeout(20_000);

let cluster: Cluster;
beforeEach(async () => {
  cluster = await new Cluster().start([{ name: "gpu-0", gpus: 8 }]);
});
afterEach(() => cluster.close());

/** Reconciles `name` once from a fresh snapshot of the fake API server. */
async function reconcile(name: string) {
  const reconciler = new Reconciler({
    view: await cluster.view(),
    writer: new KubeClusterWriter(cluster.kc),
    logger,
    now: cluster.clock.now,
  });
  return reconciler.reconcile(`${NS}/${name}`);
}

const env = (pod: V1Pod) =>
  Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

describe("reconcile against the fake API server", () => {
  test("admits, creates a wired gang, runs, restarts on a retryable exit and fails on a permanent one", async () => {
    await cluster.submit("llm", {
      numNodes: 2,
      resourcesPerNode: { limits: { "nvidia.com/gpu": 4 } },
      failurePolicy: { maxRestarts: 3, backoffSeconds: 0 },
    });
    await reconcile("llm");
    const admitted = await cluster.status("llm");
    expect(admitted).toMatchObject({
      phase: "Admitted",
      admission: "admitted: 8 GPUs on 2 nodes",
      observedGeneration: 1,
    });
    const pods = await cluster.pods("llm");
    expect(
      pods.map((p) => [p.metadata?.name, env(p).MASTER_ADDR, env(p).NODE_RANK, env(p).WORLD_SIZE]),
    ).toEqual([
      ["llm-node-0", "llm-node-0.llm", "0", "2"],
      ["llm-node-1", "llm-node-0.llm", "1", "2"],
    ]);
    const svc = await cluster.core.readNamespacedService({ namespace: NS, name: "llm" });
    expect(svc.spec?.clusterIP).toBe("None");

    await cluster.untilRunning("llm", 2);
    await reconcile("llm");
    expect((await cluster.status("llm")).phase).toBe("Running");
    expect(await reconcile("llm")).toEqual({ requeueAfterMs: undefined });

    cluster.kubelet.finish(NS, "llm-node-1", 137, "OOMKilled");
    await cluster.until(async () => (await cluster.pods("llm")).some((p) => p.status?.phase === "Failed"));
    await reconcile("llm");
    expect(await cluster.status("llm")).toMatchObject({ phase: "Restarting", restarts: 1 });
    expect(await cluster.pods("llm")).toEqual([]);

    await reconcile("llm");
    const second = await cluster.pods("llm");
    expect(second.map((p) => p.metadata?.labels?.["sloughgpt.io/attempt"])).toEqual(["1", "1"]);
    expect(env(second[0]!).SLOUGHGPT_RESTART_COUNT).toBe("1");

    await cluster.untilRunning("llm", 2);
    cluster.kubelet.finish(NS, "llm-node-0", 2);
    await cluster.until(async () => (await cluster.pods("llm")).some((p) => p.status?.phase === "Failed"));
    await reconcile("llm");
    const failed = await cluster.status("llm");
    expect(failed.phase).toBe("Failed");
    expect(failed.conditions?.find((c) => c.type === "Failed")).toMatchObject({
      status: "True",
      reason: "PermanentExit",
      message: "node 0 (llm-node-0) failed with exit code 2: Error (not retryable)",
    });
    expect(failed.nodes?.[0]).toMatchObject({ index: 0, exitCode: 2, phase: "Failed" });
    const events = await cluster.core.listNamespacedEvent({ namespace: NS });
    expect(events.items.map((e) => e.reason)).toEqual([
      "Admitted",
      "AllNodesRunning",
      "RetryableExit",
      "PodsCreated",
      "PermanentExit",
    ]);
  });

  test("queues a job that does not fit, with the reason, and creates nothing", async () => {
    await cluster.submit("big", { numNodes: 2, resourcesPerNode: { limits: { "nvidia.com/gpu": 8 } } });
    await reconcile("big");
    expect(await cluster.status("big")).toMatchObject({
      phase: "Queued",
      admission: "needs 16 GPUs, 8 free",
    });
    expect(await cluster.pods("big")).toEqual([]);
  });

  test("a spec the controller cannot run fails the job with the problem instead of retrying forever", async () => {
    // As if the CRD had no validation: the fake API server stores what it is given.
    await cluster.submit("broken", { numNodes: "two" });
    expect(await reconcile("broken")).toEqual({});
    const status = await cluster.status("broken");
    expect(status.phase).toBe("Failed");
    expect(status.conditions?.find((c) => c.type === "Failed")).toMatchObject({
      reason: "InvalidSpec",
      message: expect.stringContaining("invalid spec: numNodes"),
    });
    expect(await cluster.pods("broken")).toEqual([]);
  });

  test("a status write that loses a race is retried on the latest version", async () => {
    await cluster.submit("race", {});
    const stale = await cluster.view();
    await cluster.patchSpec("race", { priority: 5 });
    const reconciler = new Reconciler({
      view: stale,
      writer: new KubeClusterWriter(cluster.kc),
      logger,
      now: cluster.clock.now,
    });
    await reconciler.reconcile(`${NS}/race`);
    const job = await cluster.job("race");
    expect([job?.status?.phase, job?.status?.observedGeneration, job?.metadata.generation]).toEqual([
      "Admitted",
      2,
      2,
    ]);
  });
});
