import type { V1Pod } from "@kubernetes/client-node";
import type { NodeStatus } from "../api/types.js";
import { LABEL_ATTEMPT, LABEL_NODE_INDEX, TRAINER_CONTAINER } from "./names.js";

/** How one node of the current attempt ended, if it has. */
export interface Termination {
  index: number;
  podName: string;
  exitCode?: number;
  reason: string;
  /** Failures outside the trainer (init container, eviction, lost node) always restart. */
  infrastructure: boolean;
}

export const podIndex = (pod: V1Pod): number => Number(pod.metadata?.labels?.[LABEL_NODE_INDEX] ?? -1);
export const podAttempt = (pod: V1Pod): number => Number(pod.metadata?.labels?.[LABEL_ATTEMPT] ?? -1);
export const isTerminal = (pod: V1Pod): boolean =>
  pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";

export function failureOf(pod: V1Pod): Termination {
  const base = { index: podIndex(pod), podName: pod.metadata?.name ?? "" };
  const init = pod.status?.initContainerStatuses?.find((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
  if (init) {
    const code = init.state?.terminated?.exitCode;
    return { ...base, exitCode: code, reason: `InitContainerFailed: ${init.name}`, infrastructure: true };
  }
  const trainer = pod.status?.containerStatuses?.find((s) => s.name === TRAINER_CONTAINER);
  const terminated = trainer?.state?.terminated;
  if (terminated) {
    return {
      ...base,
      exitCode: terminated.exitCode,
      reason: terminated.reason ?? "Error",
      infrastructure: false,
    };
  }
  return { ...base, reason: pod.status?.reason ?? "PodFailed", infrastructure: true };
}

export function nodeStatusOf(pod: V1Pod): NodeStatus {
  const terminated = pod.status?.containerStatuses?.find((s) => s.name === TRAINER_CONTAINER)?.state
    ?.terminated;
  const out: NodeStatus = {
    index: podIndex(pod),
    podName: pod.metadata?.name,
    phase: pod.status?.phase ?? "Pending",
  };
  if (terminated) {
    out.exitCode = terminated.exitCode;
    out.reason = terminated.reason;
  } else if (pod.status?.reason) {
    out.reason = pod.status.reason;
  }
  return out;
}

/** Bound to a node or not, a pod that has not started its trainer yet. */
export const isPending = (pod: V1Pod): boolean => (pod.status?.phase ?? "Pending") === "Pending";
export const isUnscheduled = (pod: V1Pod): boolean => isPending(pod) && !pod.spec?.nodeName;
