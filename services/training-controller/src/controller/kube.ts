import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Pod,
  type V1Service,
} from "@kubernetes/client-node";
import { GROUP, KIND, PLURAL, VERSION } from "../api/types.js";
import { apiClient } from "./client.js";
import type { JobEvent } from "./plan.js";
import type { StoredJob } from "./podspec.js";

/** The writes reconcile makes; reads come from the informers' caches. */
export interface ClusterWriter {
  createPod(pod: V1Pod): Promise<void>;
  deletePod(namespace: string, name: string): Promise<void>;
  createService(svc: V1Service): Promise<void>;
  /** Replaces the status; throws ConflictError when `job` is not the latest version. */
  writeStatus(job: StoredJob): Promise<StoredJob>;
  readJob(namespace: string, name: string): Promise<StoredJob | undefined>;
  deleteJob(job: StoredJob): Promise<void>;
  recordEvent(job: StoredJob, event: JobEvent): Promise<void>;
}

export class ConflictError extends Error {}

const code = (err: unknown) => (err instanceof ApiException ? err.code : undefined);

/** Creating what exists or deleting what is gone is success: reconcile may run on a stale cache. */
async function tolerate(p: Promise<unknown>, ok: number): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (code(err) !== ok) throw err;
  }
}

export class KubeClusterWriter implements ClusterWriter {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.core = apiClient(kc, CoreV1Api);
    this.custom = apiClient(kc, CustomObjectsApi);
  }

  createPod(pod: V1Pod): Promise<void> {
    return tolerate(this.core.createNamespacedPod({ namespace: pod.metadata!.namespace!, body: pod }), 409);
  }

  deletePod(namespace: string, name: string): Promise<void> {
    return tolerate(this.core.deleteNamespacedPod({ namespace, name, propagationPolicy: "Background" }), 404);
  }

  createService(svc: V1Service): Promise<void> {
    return tolerate(
      this.core.createNamespacedService({ namespace: svc.metadata!.namespace!, body: svc }),
      409,
    );
  }

  async writeStatus(job: StoredJob): Promise<StoredJob> {
    const { namespace, name } = job.metadata;
    try {
      return (await this.custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
        body: job,
      })) as StoredJob;
    } catch (err) {
      if (code(err) === 409)
        throw new ConflictError(`TrainingJob ${namespace}/${name} changed`, { cause: err });
      throw err;
    }
  }

  async readJob(namespace: string, name: string): Promise<StoredJob | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
      })) as StoredJob;
    } catch (err) {
      if (code(err) === 404) return undefined;
      throw err;
    }
  }

  deleteJob(job: StoredJob): Promise<void> {
    const { namespace, name } = job.metadata;
    const req = {
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
      propagationPolicy: "Background",
    };
    return tolerate(this.custom.deleteNamespacedCustomObject(req), 404);
  }

  async recordEvent(job: StoredJob, event: JobEvent): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: job.metadata.namespace,
      body: {
        metadata: { generateName: `${job.metadata.name}.`, namespace: job.metadata.namespace },
        involvedObject: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: KIND,
          name: job.metadata.name,
          namespace: job.metadata.namespace,
          uid: job.metadata.uid,
        },
        type: event.type,
        reason: event.reason,
        message: event.message,
        source: { component: "sloughgpt-training-controller" },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
