import type { V1Pod } from "@kubernetes/client-node";
import { trainingJobSpec } from "../api/types.js";
import { LABEL_ATTEMPT, LABEL_JOB, LABEL_NODE_INDEX, podName, TRAINER_CONTAINER } from "./names.js";
import type { StoredJob } from "./podspec.js";

/** A stored job with defaults applied, for the pure tests. */
export function storedJob(spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): StoredJob {
  return {
    apiVersion: "sloughgpt.io/v1alpha1",
    kind: "TrainingJob",
    metadata: {
      name: "llm",
      namespace: "ml",
      uid: "uid-1",
      generation: 1,
      creationTimestamp: "2026-01-01T00:00:00Z",
      ...meta,
    } as StoredJob["metadata"],
    spec: trainingJobSpec.parse({ image: "trainer:1", ...spec }),
  };
}

type PodState =
  | "Pending"
  | "Scheduled"
  | "Running"
  | "Succeeded"
  | { exit: number; reason?: string }
  | { evicted: true }
  | { initExit: number };

/** A pod of `job`'s attempt in the given state, as the kubelet reports it. */
export function pod(job: StoredJob, index: number, state: PodState, attempt = 0, created?: string): V1Pod {
  const name = podName(job.metadata.name, index);
  const p: V1Pod = {
    metadata: {
      name,
      namespace: job.metadata.namespace,
      labels: {
        [LABEL_JOB]: job.metadata.name,
        [LABEL_NODE_INDEX]: String(index),
        [LABEL_ATTEMPT]: String(attempt),
      },
      creationTimestamp: (created ?? "2026-01-01T00:00:00Z") as unknown as Date,
    },
    spec: { containers: [{ name: TRAINER_CONTAINER }], nodeName: state === "Pending" ? undefined : "gpu-1" },
  };
  if (state === "Pending" || state === "Scheduled") p.status = { phase: "Pending" };
  else if (state === "Running") p.status = { phase: "Running" };
  else if (state === "Succeeded") p.status = terminated("Succeeded", 0, "Completed");
  else if ("exit" in state) p.status = terminated("Failed", state.exit, state.reason ?? "Error");
  else if ("evicted" in state) p.status = { phase: "Failed", reason: "Evicted" };
  else
    p.status = {
      phase: "Failed",
      initContainerStatuses: [
        { name: "wait-for-master", state: { terminated: { exitCode: state.initExit } } } as never,
      ],
    };
  return p;
}

function terminated(phase: string, exitCode: number, reason: string): V1Pod["status"] {
  return {
    phase,
    containerStatuses: [{ name: TRAINER_CONTAINER, state: { terminated: { exitCode, reason } } } as never],
  };
}
