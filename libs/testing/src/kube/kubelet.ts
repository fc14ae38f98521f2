import type { FakeStore, KubeObject, ResourceType } from "./store.js";

export interface FakeNode {
  name: string;
  gpus: number;
  labels?: Record<string, string>;
  unschedulable?: boolean;
}

/** What a started pod's main container does: exit with this code, or keep running (undefined). */
export type PodScript = (pod: KubeObject) => { exitCode: number; reason?: string } | undefined;

const GPU = "nvidia.com/gpu";

type Pod = KubeObject & {
  spec: {
    nodeName?: string;
    nodeSelector?: Record<string, string>;
    containers: {
      name: string;
      resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
    }[];
  };
  status?: { phase?: string; [k: string]: unknown };
};

function gpusOf(pod: Pod): number {
  return pod.spec.containers.reduce(
    (sum, c) => sum + Number(c.resources?.limits?.[GPU] ?? c.resources?.requests?.[GPU] ?? 0),
    0,
  );
}

const terminal = (pod: Pod) => pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";

/**
 * A simulated scheduler and kubelet over the fake API server's store: binds pending pods to nodes with
 * enough free GPUs (matching nodeSelector), starts them, and ends them with exit codes chosen by the
 * test, writing the pod status a real kubelet would (phase, containerStatuses[].state.terminated).
 * Each step is a separate write, so watchers see Pending → bound → Running → Succeeded/Failed.
 */
export class FakeKubelet {
  private readonly pods: ResourceType;
  private readonly nodes: ResourceType;
  private unsubscribe?: () => void;
  private scheduled = false;
  private script: PodScript;

  constructor(
    private readonly store: FakeStore,
    private readonly opts: { nodes: FakeNode[]; script?: PodScript },
  ) {
    this.pods = store.type("", "pods");
    this.nodes = store.type("", "nodes");
    this.script = opts.script ?? (() => undefined);
  }

  start(): this {
    for (const n of this.opts.nodes) this.addNode(n);
    this.unsubscribe = this.store.subscribe((e) => {
      if (e.resource === this.pods || e.resource === this.nodes) this.schedule();
    });
    this.schedule();
    return this;
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** Replaces what pods started from now on do. */
  setScript(script: PodScript): void {
    this.script = script;
  }

  addNode(n: FakeNode): void {
    this.store.create(this.nodes, undefined, {
      metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name, ...n.labels } },
      spec: { unschedulable: n.unschedulable ?? false },
    });
    this.store.replace(
      this.nodes,
      undefined,
      n.name,
      {
        metadata: { name: n.name },
        status: {
          allocatable: { [GPU]: String(n.gpus), cpu: "64", memory: "512Gi", pods: "110" },
          capacity: { [GPU]: String(n.gpus), cpu: "64", memory: "512Gi", pods: "110" },
          conditions: [{ type: "Ready", status: "True" }],
        },
      },
      "status",
    );
  }

  /** Writes `text` to a pod's log, as its trainer printing would. */
  log(namespace: string, name: string, text: string): void {
    this.store.appendLog(namespace, name, text);
  }

  /** Ends a running pod's trainer with `exitCode`. */
  finish(
    namespace: string,
    name: string,
    exitCode: number,
    reason = exitCode === 0 ? "Completed" : "Error",
  ): void {
    const pod = this.store.get(this.pods, namespace, name) as Pod;
    this.writeStatus(pod, {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        ready: false,
        restartCount: 0,
        state: { terminated: { exitCode, reason, finishedAt: new Date().toISOString() } },
      })),
    });
  }

  /** The node evicted the pod (no exit code), as on node pressure or drain. */
  evict(namespace: string, name: string): void {
    const pod = this.store.get(this.pods, namespace, name) as Pod;
    this.writeStatus(pod, {
      phase: "Failed",
      reason: "Evicted",
      message: "The node was low on resource: memory.",
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sync();
    });
  }

  /** One step for every pod that can move; the writes it makes schedule the next step. */
  private sync(): void {
    const pods = this.store.list(this.pods) as Pod[];
    for (const pod of pods) {
      if (terminal(pod) || pod.metadata.deletionTimestamp) continue;
      if (!pod.spec.nodeName) this.bind(pod, pods);
      else if ((pod.status?.phase ?? "Pending") === "Pending") this.run(pod);
      else this.maybeExit(pod);
    }
  }

  private freeGpus(node: KubeObject, pods: Pod[]): number {
    const allocatable = Number(
      (node.status as { allocatable: Record<string, string> }).allocatable[GPU] ?? 0,
    );
    const used = pods
      .filter((p) => p.spec.nodeName === node.metadata.name && !terminal(p))
      .reduce((s, p) => s + gpusOf(p), 0);
    return allocatable - used;
  }

  private bind(pod: Pod, pods: Pod[]): void {
    const selector = pod.spec.nodeSelector ?? {};
    const node = this.store
      .list(this.nodes)
      .find(
        (n) =>
          !(n.spec as { unschedulable?: boolean }).unschedulable &&
          Object.entries(selector).every(([k, v]) => n.metadata.labels?.[k] === v) &&
          this.freeGpus(n, pods) >= gpusOf(pod),
      );
    if (!node) return;
    pod.spec.nodeName = node.metadata.name;
    this.store.replace(this.pods, pod.metadata.namespace, pod.metadata.name!, pod);
  }

  private run(pod: Pod): void {
    this.writeStatus(pod, {
      phase: "Running",
      startTime: new Date().toISOString(),
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        ready: true,
        restartCount: 0,
        state: { running: {} },
      })),
    });
  }

  private maybeExit(pod: Pod): void {
    const outcome = this.script(pod);
    if (outcome) this.finish(pod.metadata.namespace!, pod.metadata.name!, outcome.exitCode, outcome.reason);
  }

  private writeStatus(pod: Pod, status: Record<string, unknown>): void {
    const current = this.store.get(this.pods, pod.metadata.namespace, pod.metadata.name!);
    this.store.replace(
      this.pods,
      pod.metadata.namespace,
      pod.metadata.name!,
      { ...current, status },
      "status",
    );
  }
}
