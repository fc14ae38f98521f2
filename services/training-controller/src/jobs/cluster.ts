import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { NotFoundError } from "@sloughgpt/runtime";
import { GROUP, PLURAL, type TrainingJob, type TrainingJobStatus, VERSION } from "../api/types.js";
import { apiClient } from "../controller/client.js";
import { LABEL_ATTEMPT, LABEL_JOB, LABEL_NODE_INDEX, TRAINER_CONTAINER } from "../controller/names.js";
import { type LogQuery, lastLines, logBytesPerNode, type NodeLogs, nodesOf } from "./logs.js";

export const LABEL_TEAM = "sloughgpt.io/team";

/** Where submitted jobs run. Without a cluster (BACKEND=none) jobs are only recorded. */
export interface JobCluster {
  create(job: TrainingJob, namespace: string, team: string): Promise<void>;
  /** Status by namespace/name for the given jobs; missing ones are absent. */
  statuses(namespace?: string): Promise<Map<string, TrainingJobStatus>>;
  status(namespace: string, name: string): Promise<TrainingJobStatus | undefined>;
  delete(namespace: string, name: string): Promise<void>;
  setSuspend(namespace: string, name: string, suspend: boolean): Promise<void>;
  /** The trainer's output per node, from the end. */
  logs(namespace: string, name: string, query: LogQuery): Promise<NodeLogs[]>;
}

const code = (err: unknown) => (err instanceof ApiException ? err.code : undefined);

/** TrainingJob objects in the cluster, through the API server. */
export class KubeJobCluster implements JobCluster {
  private readonly api: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.api = apiClient(kc, CustomObjectsApi);
    this.core = apiClient(kc, CoreV1Api);
  }

  async create(job: TrainingJob, namespace: string, team: string): Promise<void> {
    const labels = { ...(job.metadata.labels ?? {}), [LABEL_TEAM]: team };
    const body = { ...job, metadata: { ...job.metadata, namespace, labels }, status: undefined };
    await this.api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      body,
    });
  }

  async statuses(namespace?: string): Promise<Map<string, TrainingJobStatus>> {
    const ref = { group: GROUP, version: VERSION, plural: PLURAL };
    const list = namespace
      ? await this.api.listNamespacedCustomObject({ ...ref, namespace })
      : await this.api.listClusterCustomObject(ref);
    const items = (list.items ?? []) as {
      metadata: { namespace: string; name: string };
      status?: TrainingJobStatus;
    }[];
    return new Map(items.map((j) => [`${j.metadata.namespace}/${j.metadata.name}`, j.status ?? {}]));
  }

  async status(namespace: string, name: string): Promise<TrainingJobStatus | undefined> {
    try {
      const job = await this.api.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
      });
      return (job as { status?: TrainingJobStatus }).status ?? {};
    } catch (err) {
      if (code(err) === 404) return undefined;
      throw err;
    }
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.api.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
        propagationPolicy: "Background",
      });
    } catch (err) {
      if (code(err) !== 404) throw err;
    }
  }

  async setSuspend(namespace: string, name: string, suspend: boolean): Promise<void> {
    try {
      await this.api.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body: { spec: { suspend } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (code(err) === 404)
        throw new NotFoundError(`TrainingJob ${namespace}/${name} is not in the cluster`, { cause: err });
      throw err;
    }
  }

  /**
   * Reads each node's trainer container log through the API server. Only pods that exist have logs:
   * a gang restart deletes the pods of the attempt before, so an earlier attempt is usually gone.
   */
  async logs(namespace: string, name: string, query: LogQuery): Promise<NodeLogs[]> {
    let job: { metadata?: { uid?: string }; spec?: { numNodes?: number }; status?: TrainingJobStatus };
    try {
      job = (await this.api.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
      })) as typeof job;
    } catch (err) {
      if (code(err) === 404)
        throw new NotFoundError(`TrainingJob ${namespace}/${name} is not in the cluster`, { cause: err });
      throw err;
    }
    const attempt = query.attempt ?? job.status?.restarts ?? 0;
    const nodes = nodesOf(job.spec?.numNodes ?? 1, query.node);
    const pods = await this.core.listNamespacedPod({
      namespace,
      labelSelector: `${LABEL_JOB}=${name},${LABEL_ATTEMPT}=${attempt}`,
    });
    // Only this job's pods: a deleted job of the same name may still have terminating pods.
    const owned = pods.items.filter((p) =>
      p.metadata?.ownerReferences?.some((r) => r.uid === job.metadata?.uid),
    );
    const byNode = new Map(owned.map((p) => [Number(p.metadata?.labels?.[LABEL_NODE_INDEX]), p]));
    const limitBytes = logBytesPerNode(query, job.spec?.numNodes ?? 1);
    return Promise.all(
      nodes.map(async (node): Promise<NodeLogs> => {
        const pod = byNode.get(node)?.metadata?.name;
        if (!pod) return { node, source: "", attempt, text: "", message: `no pod of attempt ${attempt}` };
        try {
          const text = await this.core.readNamespacedPodLog({
            namespace,
            name: pod,
            container: TRAINER_CONTAINER,
            tailLines: query.tailLines,
            limitBytes,
          });
          // The API server applies tailLines; trimmed again in case a proxy between ignored it.
          return { node, source: pod, attempt, text: lastLines(String(text), query.tailLines) };
        } catch (err) {
          // 400: the container waits to start; 404: the pod went away since the list; anything else the
          // API server or kubelet answers for one node is that node's message, not the whole call's.
          if (!(err instanceof ApiException)) throw err;
          return { node, source: pod, attempt, text: "", message: apiMessage(err) };
        }
      }),
    );
  }
}

function apiMessage(err: unknown): string {
  if (!(err instanceof ApiException)) return String(err);
  let body: unknown = err.body;
  try {
    if (typeof body === "string") body = JSON.parse(body);
  } catch {
    // not JSON: no message in it
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : `HTTP ${err.code}`;
}
