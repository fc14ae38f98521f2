import type { V1Node, V1Pod } from "@kubernetes/client-node";
import type { GpuUse, NodeCapacity } from "./admission.js";
import { GPU, LABEL_JOB } from "./names.js";
import { isTerminal } from "./pods.js";
import type { StoredJob } from "./podspec.js";
import { toCount } from "./quantity.js";

/** What reconcile reads: the informers' caches in the controller, the same shape in tests. */
export interface ClusterView {
  job(namespace: string, name: string): StoredJob | undefined;
  jobs(): readonly StoredJob[];
  /** Pods labelled with the job's name, terminal ones included. */
  podsOf(namespace: string, job: string): readonly V1Pod[];
  /** Every pod labelled with some job's name. */
  jobPods(): readonly V1Pod[];
  serviceExists(namespace: string, name: string): boolean;
  nodes(): readonly V1Node[];
  /** Every pod in the cluster that still holds resources (not Succeeded or Failed). */
  activePods(): readonly V1Pod[];
}

export function nodeCapacity(node: V1Node): NodeCapacity {
  const ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  return {
    name: node.metadata?.name ?? "",
    labels: node.metadata?.labels ?? {},
    allocatableGpus: toCount(node.status?.allocatable?.[GPU]),
    schedulable: ready && !node.spec?.unschedulable,
  };
}

export function podGpus(pod: V1Pod): number {
  return (pod.spec?.containers ?? []).reduce((sum, c) => {
    const r = c.resources;
    return sum + toCount(r?.limits?.[GPU] ?? r?.requests?.[GPU]);
  }, 0);
}

export function gpuUse(pod: V1Pod): GpuUse {
  return { nodeName: pod.spec?.nodeName, gpus: podGpus(pod), nodeSelector: pod.spec?.nodeSelector };
}

export const isOwnedPod = (pod: V1Pod, job: string) =>
  pod.metadata?.labels?.[LABEL_JOB] === job && !isTerminal(pod);
