import type {
  V1EnvVar,
  V1OwnerReference,
  V1Pod,
  V1ResourceRequirements,
  V1Service,
  V1Toleration,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { API_VERSION, KIND, type TrainingJob } from "../api/types.js";
import {
  GPU,
  LABEL_ATTEMPT,
  LABEL_JOB,
  LABEL_NODE_INDEX,
  MASTER_PORT,
  masterAddr,
  podName,
  serviceName,
  TRAINER_CONTAINER,
} from "./names.js";
import { toCount } from "./quantity.js";

/** A job as read from the API server: it has a uid and a namespace. */
export type StoredJob = TrainingJob & { metadata: { uid: string; namespace: string } };

export interface PodOptions {
  /** Image of the init container that waits for the master's DNS record. */
  initImage: string;
  /** How long the init container waits before giving up (the pod then fails and the gang restarts). */
  dnsWaitSeconds: number;
}

export const defaultPodOptions: PodOptions = { initImage: "busybox:1.36", dnsWaitSeconds: 600 };

export function ownerReference(job: StoredJob): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: job.metadata.name,
    uid: job.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function gpusPerNode(job: TrainingJob): number {
  const r = job.spec.resourcesPerNode;
  return toCount(r?.limits?.[GPU] ?? r?.requests?.[GPU]);
}

/** Rendezvous variables for plain env:// and for torchrun, which reads its flags from PET_*. */
export function rendezvousEnv(job: TrainingJob, index: number, attempt: number): V1EnvVar[] {
  const { numNodes, procsPerNode, checkpointDir } = job.spec;
  const values: [string, string | number | undefined][] = [
    ["MASTER_ADDR", masterAddr(job.metadata.name)],
    ["MASTER_PORT", MASTER_PORT],
    ["WORLD_SIZE", numNodes * procsPerNode],
    ["NODE_RANK", index],
    // With several processes per node torchrun assigns RANK itself; one process is its node.
    ["RANK", procsPerNode === 1 ? index : undefined],
    ["NPROC_PER_NODE", procsPerNode],
    ["NNODES", numNodes],
    ["PET_MASTER_ADDR", masterAddr(job.metadata.name)],
    ["PET_MASTER_PORT", MASTER_PORT],
    ["PET_NNODES", numNodes],
    ["PET_NODE_RANK", index],
    ["PET_NPROC_PER_NODE", procsPerNode],
    ["CHECKPOINT_DIR", checkpointDir],
    ["SLOUGHGPT_JOB_NAME", job.metadata.name],
    ["SLOUGHGPT_RESTART_COUNT", attempt],
  ];
  return values.filter(([, v]) => v !== undefined).map(([name, v]) => ({ name, value: String(v) }));
}

/** The job's env, minus anything that would override the rendezvous, then the rendezvous. */
function containerEnv(job: TrainingJob, index: number, attempt: number): V1EnvVar[] {
  const ours = rendezvousEnv(job, index, attempt);
  const reserved = new Set(ours.map((e) => e.name));
  const theirs = (job.spec.env ?? []).filter((e) => !reserved.has(e.name)) as V1EnvVar[];
  return [...theirs, ...ours];
}

/** Extended resources must have limits equal to requests; a GPU named in either lands in both. */
export function nodeResources(job: TrainingJob): V1ResourceRequirements {
  const r = job.spec.resourcesPerNode ?? {};
  const requests = { ...(r.requests ?? {}) } as Record<string, string | number>;
  const limits = { ...(r.limits ?? {}) } as Record<string, string | number>;
  const gpus = gpusPerNode(job);
  if (gpus > 0) {
    requests[GPU] = String(gpus);
    limits[GPU] = String(gpus);
  }
  const str = (m: Record<string, string | number>) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
  return { requests: str(requests), limits: str(limits) };
}

export function jobLabels(job: TrainingJob): Record<string, string> {
  return { [LABEL_JOB]: job.metadata.name, "app.kubernetes.io/managed-by": "sloughgpt-training-controller" };
}

function dnsWait(job: TrainingJob, opts: PodOptions) {
  const addr = masterAddr(job.metadata.name);
  return {
    name: "wait-for-master",
    image: opts.initImage,
    command: [
      "sh",
      "-c",
      `for i in $(seq ${opts.dnsWaitSeconds}); do nslookup ${addr} >/dev/null 2>&1 && exit 0; sleep 1; done; echo "${addr} did not resolve"; exit 1`,
    ],
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "32Mi" } },
  };
}

/** Pod `index` of the job's current attempt. */
export function buildPod(job: StoredJob, index: number, attempt: number, opts = defaultPodOptions): V1Pod {
  const spec = job.spec;
  const name = podName(job.metadata.name, index);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: job.metadata.namespace,
      labels: { ...jobLabels(job), [LABEL_NODE_INDEX]: String(index), [LABEL_ATTEMPT]: String(attempt) },
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      restartPolicy: "Never",
      hostname: name,
      subdomain: serviceName(job.metadata.name),
      nodeSelector: spec.nodeSelector,
      tolerations: spec.tolerations as V1Toleration[] | undefined,
      volumes: spec.volumes as V1Volume[] | undefined,
      initContainers: [dnsWait(job, opts)],
      containers: [
        {
          name: TRAINER_CONTAINER,
          image: spec.image,
          command: spec.command,
          args: spec.args,
          env: containerEnv(job, index, attempt),
          ports: [{ name: "rendezvous", containerPort: MASTER_PORT }],
          resources: nodeResources(job),
          volumeMounts: spec.volumeMounts as V1VolumeMount[] | undefined,
        },
      ],
    },
  };
}

/** Headless, and publishing not-ready pods, so the rendezvous name resolves while pods start. */
export function buildService(job: StoredJob): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: serviceName(job.metadata.name),
      namespace: job.metadata.namespace,
      labels: jobLabels(job),
      ownerReferences: [ownerReference(job)],
    },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { [LABEL_JOB]: job.metadata.name },
      ports: [{ name: "rendezvous", port: MASTER_PORT, targetPort: MASTER_PORT }],
    },
  };
}
