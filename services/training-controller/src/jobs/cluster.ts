import {
  ApiException,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { NotFoundError } from "@sloughgpt/runtime";
import { GROUP, PLURAL, type TrainingJob, type TrainingJobStatus, VERSION } from "../api/types.js";
import { apiClient } from "../controller/client.js";

export const LABEL_TEAM = "sloughgpt.io/team";

/** Where submitted jobs run. Without a cluster (BACKEND=none) jobs are only recorded. */
export interface JobCluster {
  create(job: TrainingJob, namespace: string, team: string): Promise<void>;
  /** Status by namespace/name for the given jobs; missing ones are absent. */
  statuses(namespace?: string): Promise<Map<string, TrainingJobStatus>>;
  status(namespace: string, name: string): Promise<TrainingJobStatus | undefined>;
  delete(namespace: string, name: string): Promise<void>;
  setSuspend(namespace: string, name: string, suspend: boolean): Promise<void>;
}

const code = (err: unknown) => (err instanceof ApiException ? err.code : undefined);

/** TrainingJob objects in the cluster, through the API server. */
export class KubeJobCluster implements JobCluster {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.api = apiClient(kc, CustomObjectsApi);
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
}
