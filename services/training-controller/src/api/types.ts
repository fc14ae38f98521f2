import { z } from "zod";

/**
 * The sloughgpt.io/v1alpha1 TrainingJob API. This file is the one source of truth: the CRD's OpenAPI
 * schema (k8s/crds, charts/sloughgpt/crds) is generated from it by `pnpm --filter
 * @sloughgpt/training-controller crd:gen`, and manifests submitted through the gateway parse with it.
 * `.meta()` keys starting with x-kubernetes- are carried into the CRD unchanged.
 */

export const GROUP = "sloughgpt.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "TrainingJob";
export const PLURAL = "trainingjobs";

const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label: lowercase letters, digits and '-'");

/** Kubernetes' resource.Quantity grammar: a sign is not allowed, so negative amounts are refused. */
const QUANTITY =
  /^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;

const quantity = z
  .union([z.int().min(0), z.string().regex(QUANTITY, "must be a non-negative quantity")])
  .meta({ "x-kubernetes-int-or-string": true });

const resourceList = z.record(z.string(), quantity);

const envVar = z
  .object({
    name: z.string().min(1),
    value: z.string().optional(),
    valueFrom: z.object({}).loose().optional(),
  })
  .meta({ description: "core/v1 EnvVar." });

const toleration = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.int().optional(),
});

const volume = z.object({ name: z.string().min(1) }).loose();

const volumeMount = z
  .object({
    name: z.string().min(1),
    mountPath: z.string().min(1),
    readOnly: z.boolean().optional(),
    subPath: z.string().optional(),
  })
  .loose();

export const failurePolicy = z.object({
  maxRestarts: z
    .int32()
    .min(0)
    .default(3)
    .meta({ description: "Whole-job restarts allowed before the job is Failed." }),
  backoffSeconds: z
    .int32()
    .min(0)
    .default(10)
    .meta({ description: "Delay before a restart, doubled on each further restart (capped at 10 minutes)." }),
  retryableExitCodes: z.array(z.int32().min(0).max(255)).optional().meta({
    description:
      "Exit codes that restart the job. Unset: codes of 128 and above (killed by a signal: OOM, preemption) restart it, 1-127 fail it.",
    "x-kubernetes-list-type": "set",
  }),
});

export const trainingJobSpec = z.object({
  image: z.string().min(1).meta({ description: "Container image of the trainer." }),
  command: z.array(z.string()).optional().meta({ description: "Overrides the image entrypoint." }),
  args: z.array(z.string()).optional(),
  env: z
    .array(envVar)
    .optional()
    .meta({
      description: "Extra environment for every node; the controller adds the rendezvous variables itself.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    }),
  numNodes: z
    .int32()
    .min(1)
    .default(1)
    .meta({ description: "Number of pods (one per node) that form the job; all start together or none." }),
  procsPerNode: z
    .int32()
    .min(1)
    .default(1)
    .meta({ description: "Worker processes per node, usually one per GPU." }),
  resourcesPerNode: z
    .object({ requests: resourceList.optional(), limits: resourceList.optional() })
    .optional()
    .meta({ description: "Resources of each node's trainer container, nvidia.com/gpu included." }),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(toleration).optional(),
  volumes: z
    .array(volume)
    .optional()
    .meta({ description: "Pod volumes (core/v1 Volume): dataset, checkpoint and output claims." }),
  volumeMounts: z
    .array(volumeMount)
    .optional()
    .meta({ description: "Trainer container mounts (core/v1 VolumeMount)." }),
  checkpointDir: z.string().regex(/^\//, "must be an absolute path").optional().meta({
    description: "Absolute path, on a shared volume, where the trainer writes and resumes checkpoints.",
  }),
  failurePolicy: failurePolicy.prefault({}),
  activeDeadlineSeconds: z
    .int()
    .min(1)
    .optional()
    .meta({ description: "Seconds from the first start after which a running job is Failed." }),
  ttlSecondsAfterFinished: z
    .int32()
    .min(0)
    .optional()
    .meta({ description: "Seconds after Succeeded or Failed before the job is deleted." }),
  suspend: z
    .boolean()
    .default(false)
    .meta({ description: "True deletes the job's pods and keeps the job; false again re-admits it." }),
  priority: z
    .int32()
    .optional()
    .meta({ description: "Higher values are admitted first; equal priorities by age." }),
  queue: z.string().optional(),
  output: z
    .object({ modelId: z.string().optional(), path: z.string().optional() })
    .optional()
    .meta({ description: "Where the trained model lands and the model id to register with serving." }),
});

export const PHASES = [
  "Queued",
  "Admitted",
  "Running",
  "Restarting",
  "Succeeded",
  "Failed",
  "Suspended",
] as const;
export type Phase = (typeof PHASES)[number];

export const condition = z.object({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.iso.datetime().optional(),
  observedGeneration: z.int().min(0).optional(),
});

export const nodeStatus = z.object({
  index: z.int32().min(0),
  podName: z.string().optional(),
  phase: z.string().optional(),
  exitCode: z.int32().optional().meta({ description: "Exit code of the trainer's last termination." }),
  reason: z.string().optional(),
});

export const trainingJobStatus = z.object({
  phase: z.enum(PHASES).optional(),
  conditions: z
    .array(condition)
    .optional()
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
  restarts: z.int32().min(0).optional().meta({ description: "Whole-job restarts so far." }),
  nodes: z.array(nodeStatus).optional().meta({ description: "Per-node state of the current attempt." }),
  startTime: z.iso.datetime().optional(),
  completionTime: z.iso.datetime().optional(),
  restartAt: z.iso
    .datetime()
    .optional()
    .meta({ description: "When a Restarting job's pods are recreated (after the backoff)." }),
  observedGeneration: z.int().min(0).optional(),
  admission: z
    .string()
    .optional()
    .meta({ description: 'Why the job is or is not admitted, e.g. "needs 16 GPUs, 8 free".' }),
});

const objectMeta = z
  .object({
    name: dnsLabel,
    namespace: dnsLabel.optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

/** A TrainingJob as submitted or read back from the API server. */
export const trainingJob = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  metadata: objectMeta,
  spec: trainingJobSpec,
  status: trainingJobStatus.optional(),
});

export type TrainingJob = z.infer<typeof trainingJob>;
export type TrainingJobSpec = z.infer<typeof trainingJobSpec>;
export type TrainingJobStatus = z.infer<typeof trainingJobStatus>;
export type Condition = z.infer<typeof condition>;
export type NodeStatus = z.infer<typeof nodeStatus>;
export type FailurePolicy = z.infer<typeof failurePolicy>;
