import { hostname } from "node:os";
import { baseEnv, boolish, databaseEnv, natsEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label");

export const configSchema = z.object({
  ...baseEnv,
  ...databaseEnv,
  ...natsEnv,
  GRPC_PORT: port(50054),
  /** Namespace for jobs whose manifest names none. */
  DEFAULT_NAMESPACE: dnsLabel.default("default"),
  /**
   * `none`: jobs are validated and recorded only. `kubernetes`: the controller reconciles TrainingJobs
   * in the cluster it runs in (or the one KUBECONFIG names), and publishes phase events on NATS.
   * `local`: each job's nodes run as processes on this machine (logs under DATA_DIR/training/logs).
   */
  BACKEND: z.enum(["none", "kubernetes", "local"]).default("none"),
  /** Reconcile TrainingJobs of this namespace only; unset watches all namespaces. */
  WATCH_NAMESPACE: dnsLabel.optional(),
  /** Take the leader Lease before acting, so replicas never act together. */
  LEADER_ELECTION: boolish(true),
  /** Namespace of the leader Lease (the chart sets the release namespace). */
  LEASE_NAMESPACE: dnsLabel.default("default"),
  /** This replica's name in the Lease; the pod name (the hostname) by default. */
  POD_NAME: z.string().min(1).default(hostname()),
  LEASE_DURATION_SECONDS: z.coerce.number().int().min(2).default(15),
  /** Every job is reconciled again this often even without events. */
  RESYNC_SECONDS: z.coerce.number().int().min(1).default(300),
  /** Admitted pods left unscheduled this long are released and the job queued again. */
  PENDING_TIMEOUT_SECONDS: z.coerce.number().int().min(1).default(600),
  /** Image of the init container that waits for the master's DNS name. */
  INIT_IMAGE: z.string().min(1).default("busybox:1.36"),
});

export type Config = z.infer<typeof configSchema>;
