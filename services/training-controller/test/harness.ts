import { readFileSync } from "node:fs";
import path from "node:path";
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
  type V1Service,
} from "@kubernetes/client-node";
import { createLogger } from "@sloughgpt/runtime";
import { FakeKubeApiServer, FakeKubelet, type FakeNode, type PodScript } from "@sloughgpt/testing";
import { parse } from "yaml";
import type { TrainingJobStatus } from "../src/api/types.js";
import { LABEL_JOB } from "../src/controller/names.js";
import type { StoredJob } from "../src/controller/podspec.js";
import type { ClusterView } from "../src/controller/view.js";

const root = path.resolve(import.meta.dirname, "../../..");
export const crd = parse(readFileSync(path.join(root, "k8s/crds/trainingjobs.sloughgpt.io.yaml"), "utf8"));
export const logger = createLogger({ service: "training-controller-test", level: "silent" });
export const NS = "ml";
const TJ = { group: "sloughgpt.io", version: "v1alpha1", plural: "trainingjobs", namespace: NS };

/** A clock the test moves by hand, so deadlines, backoffs and TTLs need no waiting. */
export class ManualClock {
  constructor(private t = Date.parse("2026-01-01T00:00:00Z")) {}
  now = (): Date => new Date(this.t);
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

/** A fake API server (a test double), a simulated kubelet on the given nodes, and typed clients. */
export class Cluster {
  readonly server: FakeKubeApiServer;
  readonly kc = new KubeConfig();
  kubelet!: FakeKubelet;
  core!: CoreV1Api;
  custom!: CustomObjectsApi;

  constructor(readonly clock = new ManualClock()) {
    this.server = new FakeKubeApiServer({ crds: [crd], now: clock.now });
  }

  async start(nodes: FakeNode[], script?: PodScript): Promise<this> {
    await this.server.start();
    this.kc.loadFromOptions(this.server.kubeConfigOptions(NS));
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.custom = this.kc.makeApiClient(CustomObjectsApi);
    this.kubelet = new FakeKubelet(this.server.store, { nodes, script }).start();
    return this;
  }

  async close(): Promise<void> {
    this.kubelet.stop();
    await this.server.close();
  }

  async submit(name: string, spec: Record<string, unknown>): Promise<StoredJob> {
    return (await this.custom.createNamespacedCustomObject({
      ...TJ,
      body: {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name },
        spec: { image: "trainer:1", ...spec },
      },
    })) as StoredJob;
  }

  async job(name: string): Promise<StoredJob | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...TJ, name })) as StoredJob;
    } catch {
      return undefined;
    }
  }

  async status(name: string): Promise<TrainingJobStatus> {
    return (await this.job(name))?.status ?? {};
  }

  /** A merge patch, as `kubectl patch --type merge` sends it: no read-modify-write race with the controller. */
  async patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
    await this.custom.patchNamespacedCustomObject(
      { ...TJ, name, body: { spec } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  async pods(job: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace: NS, labelSelector: `${LABEL_JOB}=${job}` })).items;
  }

  /** Resolves once `check` holds; each test's timeout bounds the wait. */
  async until<T>(check: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
    for (;;) {
      const v = await check();
      if (v) return v;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async untilPhase(name: string, phase: string): Promise<TrainingJobStatus> {
    return this.until(async () => {
      const s = await this.status(name);
      return s.phase === phase ? s : undefined;
    });
  }

  /** Every pod of the job Running, as the kubelet reports it. */
  async untilRunning(job: string, n: number): Promise<V1Pod[]> {
    return this.until(async () => {
      const pods = await this.pods(job);
      return pods.length === n && pods.every((p) => p.status?.phase === "Running") ? pods : undefined;
    });
  }

  /** A consistent snapshot read from the API server, for calling reconcile directly. */
  async view(): Promise<ClusterView> {
    const [jobs, pods, services, nodes] = await Promise.all([
      this.custom.listNamespacedCustomObject(TJ),
      this.core.listNamespacedPod({ namespace: NS }),
      this.core.listNamespacedService({ namespace: NS }),
      this.core.listNode(),
    ]);
    return snapshot(jobs.items as StoredJob[], pods.items, services.items, nodes.items);
  }
}

export function snapshot(
  jobs: StoredJob[],
  pods: V1Pod[],
  services: V1Service[],
  nodes: V1Node[],
): ClusterView {
  return {
    job: (ns, name) => jobs.find((j) => j.metadata.namespace === ns && j.metadata.name === name),
    jobs: () => jobs,
    podsOf: (ns, job) =>
      pods.filter((p) => p.metadata?.namespace === ns && p.metadata?.labels?.[LABEL_JOB] === job),
    jobPods: () => pods.filter((p) => p.metadata?.labels?.[LABEL_JOB] !== undefined),
    serviceExists: (ns, name) =>
      services.some((s) => s.metadata?.namespace === ns && s.metadata?.name === name),
    nodes: () => nodes,
    activePods: () => pods.filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed"),
  };
}
