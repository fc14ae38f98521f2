import { z } from "zod";

const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label: lowercase letters, digits and '-'");

const quantity = z.union([
  z.number().nonnegative(),
  z.string().regex(/^[0-9.]+[a-zA-Z]*$/, "must be a non-negative quantity"),
]);

export const trainingJobSpec = z.object({
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(z.object({ name: z.string().min(1), value: z.string().optional() }).loose()).optional(),
  numNodes: z.number().int().min(1).default(1),
  procsPerNode: z.number().int().min(1).default(1),
  resourcesPerNode: z
    .object({
      requests: z.record(z.string(), quantity).optional(),
      limits: z.record(z.string(), quantity).optional(),
    })
    .optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(z.record(z.string(), z.unknown())).optional(),
  volumes: z.array(z.record(z.string(), z.unknown())).optional(),
  volumeMounts: z.array(z.record(z.string(), z.unknown())).optional(),
  checkpointDir: z.string().optional(),
  failurePolicy: z
    .object({
      maxRestarts: z.number().int().min(0).default(3),
      backoffSeconds: z.number().int().min(0).default(10),
      retryableExitCodes: z.array(z.number().int()).optional(),
    })
    .optional(),
  activeDeadlineSeconds: z.number().int().min(1).optional(),
  ttlSecondsAfterFinished: z.number().int().min(0).optional(),
  suspend: z.boolean().optional(),
  priority: z.number().int().optional(),
  queue: z.string().optional(),
  output: z.object({ modelId: z.string().optional(), path: z.string().optional() }).optional(),
});

/** A TrainingJob as submitted (sloughgpt.io/v1alpha1); mirrors k8s/crds/trainingjobs.sloughgpt.io.yaml. */
export const trainingJob = z.object({
  apiVersion: z.literal("sloughgpt.io/v1alpha1"),
  kind: z.literal("TrainingJob"),
  metadata: z
    .object({
      name: dnsLabel,
      namespace: dnsLabel.optional(),
      labels: z.record(z.string(), z.string()).optional(),
      annotations: z.record(z.string(), z.string()).optional(),
    })
    .loose(),
  spec: trainingJobSpec,
});

export type TrainingJob = z.infer<typeof trainingJob>;
