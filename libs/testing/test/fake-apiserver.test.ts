import { readFileSync } from "node:fs";
import path from "node:path";
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { parse } from "yaml";
import { FakeKubelet } from "../src/kube/kubelet.js";
import { FakeKubeApiServer } from "../src/kube/server.js";

const root = path.resolve(import.meta.dirname, "../../..");
const crd = parse(readFileSync(path.join(root, "k8s/crds/trainingjobs.sloughgpt.io.yaml"), "utf8"));
const tj = { group: "sloughgpt.io", version: "v1alpha1", plural: "trainingjobs", namespace: "ml" };

let server: FakeKubeApiServer;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let kc: KubeConfig;

beforeEach(async () => {
  server = await new FakeKubeApiServer({ crds: [crd] }).start();
  kc = new KubeConfig();
  kc.loadFromOptions(server.kubeConfigOptions("ml"));
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});

afterEach(() => server.close());

const podBody = (name: string, gpus = 0, labels: Record<string, string> = {}): V1Pod => ({
  metadata: { name, labels },
  spec: {
    containers: [
      { name: "trainer", image: "x", resources: gpus ? { limits: { "nvidia.com/gpu": String(gpus) } } : {} },
    ],
  },
});

async function statusCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

/** Resolves once `check` holds; the test's own timeout bounds the wait. */
async function until(check: () => boolean | Promise<boolean | undefined> | undefined): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe("fake kube-apiserver, through @kubernetes/client-node", () => {
  test("creates, reads and lists pods with increasing resourceVersions; a second create is 409", async () => {
    const a = await core.createNamespacedPod({ namespace: "ml", body: podBody("a", 0, { app: "x" }) });
    const b = await core.createNamespacedPod({ namespace: "ml", body: podBody("b", 0, { app: "y" }) });
    expect(a.metadata?.uid).toBeTruthy();
    expect(Number(b.metadata?.resourceVersion)).toBeGreaterThan(Number(a.metadata?.resourceVersion));
    expect((await core.readNamespacedPod({ namespace: "ml", name: "a" })).metadata?.uid).toBe(
      a.metadata?.uid,
    );
    const list = await core.listNamespacedPod({ namespace: "ml", labelSelector: "app in (x,z)" });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(["a"]);
    expect(list.metadata?.resourceVersion).toBe(b.metadata?.resourceVersion);
    expect(await statusCode(core.createNamespacedPod({ namespace: "ml", body: podBody("a") }))).toBe(409);
    expect(await statusCode(core.readNamespacedPod({ namespace: "ml", name: "zzz" }))).toBe(404);
  });

  test("a replace with a stale resourceVersion is a 409 Conflict; a fresh one succeeds", async () => {
    const created = await core.createNamespacedPod({ namespace: "ml", body: podBody("a") });
    const fresh = { ...created, metadata: { ...created.metadata, labels: { v: "1" } } };
    await core.replaceNamespacedPod({ namespace: "ml", name: "a", body: fresh });
    const stale = { ...created, metadata: { ...created.metadata, labels: { v: "2" } } };
    expect(await statusCode(core.replaceNamespacedPod({ namespace: "ml", name: "a", body: stale }))).toBe(
      409,
    );
    const now = await core.readNamespacedPod({ namespace: "ml", name: "a" });
    expect(now.metadata?.labels).toEqual({ v: "1" });
  });

  test("merge patch and JSON patch", async () => {
    await core.createNamespacedPod({ namespace: "ml", body: podBody("a", 0, { keep: "1", drop: "1" }) });
    await core.patchNamespacedPod(
      { namespace: "ml", name: "a", body: { metadata: { labels: { drop: null, add: "1" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    await core.patchNamespacedPod({
      namespace: "ml",
      name: "a",
      body: [{ op: "add", path: "/metadata/annotations", value: { note: "x" } }],
    });
    const pod = await core.readNamespacedPod({ namespace: "ml", name: "a" });
    expect([pod.metadata?.labels, pod.metadata?.annotations]).toEqual([
      { keep: "1", add: "1" },
      { note: "x" },
    ]);
  });

  test("custom resources: schema defaults, generation on spec changes only, status through the subresource", async () => {
    const job = await custom.createNamespacedCustomObject({
      ...tj,
      body: {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name: "j" },
        spec: { image: "t" },
        status: { phase: "Running" },
      },
    });
    expect(job.spec).toMatchObject({
      numNodes: 1,
      procsPerNode: 1,
      suspend: false,
      failurePolicy: { maxRestarts: 3, backoffSeconds: 10 },
    });
    expect(job.status).toBeUndefined();
    const withStatus = await custom.replaceNamespacedCustomObjectStatus({
      ...tj,
      name: "j",
      body: { ...job, spec: { image: "ignored" }, status: { phase: "Queued" } },
    });
    expect([withStatus.spec.image, withStatus.status.phase, withStatus.metadata.generation]).toEqual([
      "t",
      "Queued",
      1,
    ]);
    const respec = await custom.replaceNamespacedCustomObject({
      ...tj,
      name: "j",
      body: { ...withStatus, spec: { ...withStatus.spec, numNodes: 2 }, status: {} },
    });
    expect([respec.spec.numNodes, respec.status.phase, respec.metadata.generation]).toEqual([2, "Queued", 2]);
    expect(
      await statusCode(custom.replaceNamespacedCustomObjectStatus({ ...tj, name: "j", body: withStatus })),
    ).toBe(409);
  });

  test("deleting an owner deletes what it owns, unless orphaned", async () => {
    const job = await custom.createNamespacedCustomObject({
      ...tj,
      body: {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name: "j" },
        spec: { image: "t" },
      },
    });
    const owner = {
      apiVersion: "sloughgpt.io/v1alpha1",
      kind: "TrainingJob",
      name: "j",
      uid: job.metadata.uid,
      controller: true,
    };
    await core.createNamespacedPod({
      namespace: "ml",
      body: { ...podBody("owned"), metadata: { name: "owned", ownerReferences: [owner] } },
    });
    await core.createNamespacedPod({ namespace: "ml", body: podBody("free") });
    await custom.deleteNamespacedCustomObject({ ...tj, name: "j" });
    const left = await core.listNamespacedPod({ namespace: "ml" });
    expect(left.items.map((p) => p.metadata?.name)).toEqual(["free"]);

    const again = await custom.createNamespacedCustomObject({
      ...tj,
      body: {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name: "k" },
        spec: { image: "t" },
      },
    });
    const ref = { ...owner, name: "k", uid: again.metadata.uid };
    await core.createNamespacedPod({
      namespace: "ml",
      body: { ...podBody("kept"), metadata: { name: "kept", ownerReferences: [ref] } },
    });
    await custom.deleteNamespacedCustomObject({ ...tj, name: "k", propagationPolicy: "Orphan" });
    const kept = await core.readNamespacedPod({ namespace: "ml", name: "kept" });
    expect(kept.metadata?.ownerReferences ?? []).toEqual([]);
  });

  test("an informer lists, then watches from the list's resourceVersion, and resumes after a dropped watch without losing events", async () => {
    await core.createNamespacedPod({ namespace: "ml", body: podBody("before") });
    const informer = makeInformer(kc, "/api/v1/namespaces/ml/pods", () =>
      core.listNamespacedPod({ namespace: "ml" }),
    );
    const seen: string[] = [];
    informer.on("add", (p) => seen.push(`add ${p.metadata?.name}`));
    informer.on("update", (p) => seen.push(`update ${p.metadata?.name}`));
    informer.on("delete", (p) => seen.push(`delete ${p.metadata?.name}`));
    await informer.start();
    await core.createNamespacedPod({ namespace: "ml", body: podBody("during") });
    await until(() => informer.list().length === 2);
    server.closeWatches();
    await core.deleteNamespacedPod({ namespace: "ml", name: "before" });
    await until(() => informer.list().length === 1);
    await core.createNamespacedPod({ namespace: "ml", body: podBody("after") });
    await until(() => informer.list().length === 2);
    await informer.stop();
    expect(seen).toEqual(["add before", "add during", "delete before", "add after"]);
  });

  test("a watch with a field selector sees an object leave it as DELETED", async () => {
    await core.createNamespacedPod({ namespace: "ml", body: podBody("a") });
    const informer = makeInformer(kc, "/api/v1/pods", () =>
      core.listPodForAllNamespaces({ fieldSelector: "status.phase!=Failed" }),
    );
    // makeInformer has no field selector parameter; the ListWatch it builds is given one here.
    (informer as unknown as { fieldSelector: string }).fieldSelector = "status.phase!=Failed";
    const deleted: string[] = [];
    informer.on("delete", (p) => deleted.push(p.metadata!.name!));
    await informer.start();
    const pod = await core.readNamespacedPod({ namespace: "ml", name: "a" });
    await core.replaceNamespacedPodStatus({
      namespace: "ml",
      name: "a",
      body: { ...pod, status: { phase: "Failed" } },
    });
    await until(() => deleted.length === 1);
    await informer.stop();
    expect(informer.list()).toEqual([]);
  });

  test("a watch from a compacted resourceVersion gets a 410 Expired ERROR event, as the apiserver sends it", async () => {
    await core.createNamespacedPod({ namespace: "ml", body: podBody("a") });
    await core.createNamespacedPod({ namespace: "ml", body: podBody("b") });
    server.store.compact();
    const events: { type: string; code?: number }[] = [];
    const ended = new Promise<void>((resolve) => {
      void new Watch(kc).watch(
        "/api/v1/namespaces/ml/pods",
        { resourceVersion: "1" },
        (type, obj) => events.push({ type, code: obj.code }),
        () => resolve(),
      );
    });
    await ended;
    expect(events).toEqual([{ type: "ERROR", code: 410 }]);
  });

  test("leases: create, then replace with optimistic concurrency", async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({
      namespace: "ml",
      body: { metadata: { name: "ctl" }, spec: { holderIdentity: "a", leaseDurationSeconds: 15 } },
    });
    await coord.replaceNamespacedLease({
      namespace: "ml",
      name: "ctl",
      body: { ...lease, spec: { ...lease.spec, holderIdentity: "b" } },
    });
    const lost = coord.replaceNamespacedLease({
      namespace: "ml",
      name: "ctl",
      body: { ...lease, spec: { ...lease.spec, holderIdentity: "c" } },
    });
    expect(await statusCode(lost)).toBe(409);
    expect((await coord.readNamespacedLease({ namespace: "ml", name: "ctl" })).spec?.holderIdentity).toBe(
      "b",
    );
  });
});

describe("simulated kubelet", () => {
  test("moves pods Pending → bound → Running → Succeeded/Failed with the chosen exit code", async () => {
    const kubelet = new FakeKubelet(server.store, {
      nodes: [{ name: "gpu-0", gpus: 8 }],
      script: (pod) => (pod.metadata.name === "fails" ? { exitCode: 137, reason: "OOMKilled" } : undefined),
    }).start();
    const phases: string[] = [];
    server.store.subscribe((e) => {
      if (e.object.metadata.name === "ok")
        phases.push(
          `${(e.object.status as { phase?: string })?.phase ?? "-"}@${(e.object.spec as { nodeName?: string }).nodeName ?? ""}`,
        );
    });
    await core.createNamespacedPod({ namespace: "ml", body: podBody("ok", 4) });
    await core.createNamespacedPod({ namespace: "ml", body: podBody("fails", 4) });
    await core.createNamespacedPod({ namespace: "ml", body: podBody("too-big", 4) });
    const phase = async (name: string) =>
      (await core.readNamespacedPod({ namespace: "ml", name })).status?.phase;
    await until(async () => (await phase("fails")) === "Failed");
    const failed = await core.readNamespacedPod({ namespace: "ml", name: "fails" });
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 137,
      reason: "OOMKilled",
    });
    // The failed pod gave its GPUs back, so the third pod now fits.
    await until(async () => (await phase("too-big")) === "Running");
    kubelet.finish("ml", "ok", 0);
    await until(async () => (await phase("ok")) === "Succeeded");
    expect(phases).toEqual(["-@", "-@gpu-0", "Running@gpu-0", "Succeeded@gpu-0"]);
    kubelet.stop();
  });

  test("a pod whose GPUs no node has stays Pending and unbound", async () => {
    const kubelet = new FakeKubelet(server.store, { nodes: [{ name: "gpu-0", gpus: 2 }] }).start();
    await core.createNamespacedPod({ namespace: "ml", body: podBody("huge", 4) });
    await core.createNamespacedPod({ namespace: "ml", body: podBody("small", 1) });
    await until(
      async () =>
        (await core.readNamespacedPod({ namespace: "ml", name: "small" })).status?.phase === "Running",
    );
    const huge = await core.readNamespacedPod({ namespace: "ml", name: "huge" });
    expect([huge.status?.phase, huge.spec?.nodeName]).toEqual([undefined, undefined]);
    kubelet.stop();
  });
  test("serves a running pod's log as text: tailLines, limitBytes, container checks, 400 while Pending, gone with the pod", async () => {
    const kubelet = new FakeKubelet(server.store, { nodes: [{ name: "gpu-0", gpus: 2 }] }).start();
    await core.createNamespacedPod({ namespace: "ml", body: podBody("waits", 4) });
    await core.createNamespacedPod({ namespace: "ml", body: podBody("runs", 1) });
    await until(
      async () =>
        (await core.readNamespacedPod({ namespace: "ml", name: "runs" })).status?.phase === "Running",
    );
    kubelet.log("ml", "runs", "step 1 loss 6.0\nstep 2 loss 5.1\n");
    kubelet.log("ml", "runs", "step 3 loss 4.2\n");
    const log = (params: Record<string, unknown>) =>
      core.readNamespacedPodLog({ namespace: "ml", name: "runs", ...params });
    expect(await log({})).toBe("step 1 loss 6.0\nstep 2 loss 5.1\nstep 3 loss 4.2\n");
    expect(await log({ container: "trainer", tailLines: 2 })).toBe("step 2 loss 5.1\nstep 3 loss 4.2\n");
    expect(await log({ limitBytes: 6 })).toBe("step 1");
    expect(await statusCode(log({ container: "sidecar" }))).toBe(400);
    expect(await statusCode(log({ tailLines: -1 }))).toBe(400);
    expect(await statusCode(log({ follow: true }))).toBe(400);
    expect(await statusCode(core.readNamespacedPodLog({ namespace: "ml", name: "waits" }))).toBe(400);
    await core.deleteNamespacedPod({ namespace: "ml", name: "runs" });
    expect(await statusCode(log({}))).toBe(404);
    kubelet.stop();
  });
});
