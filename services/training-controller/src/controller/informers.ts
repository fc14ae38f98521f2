import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  type V1Node,
  type V1Pod,
  type V1Service,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "@sloughgpt/runtime";
import { GROUP, PLURAL, VERSION } from "../api/types.js";
import { apiClient } from "./client.js";
import { LABEL_JOB } from "./names.js";
import type { StoredJob } from "./podspec.js";
import type { ClusterView } from "./view.js";

type Cache<T extends KubernetesObject> = ListWatch<T>;

export type Change = {
  kind: "job" | "pod" | "service" | "node" | "activePod";
  verb: "add" | "update" | "delete";
  object: KubernetesObject;
};

const RESTART_DELAY_MS = 1000;

/**
 * List+watch caches of TrainingJobs, their pods and services, nodes, and every non-terminal pod (for
 * GPU accounting). client-node's ListWatch resumes watches and relists on 410 itself; after any other
 * error it stops, so it is restarted here until the signal aborts.
 */
export class Informers implements ClusterView {
  private readonly caches: Cache<KubernetesObject>[] = [];
  private readonly jobCache: Cache<StoredJob>;
  private readonly podCache: Cache<V1Pod>;
  private readonly serviceCache: Cache<V1Service>;
  private readonly nodeCache: Cache<V1Node>;
  private readonly activeCache: Cache<V1Pod>;

  constructor(
    kc: KubeConfig,
    private readonly opts: {
      namespace?: string;
      logger: Logger;
      onChange: (c: Change) => void;
      signal: AbortSignal;
      /** Delay before a failed list or watch is started again. */
      restartDelayMs?: number;
    },
  ) {
    const core = apiClient(kc, CoreV1Api);
    const custom = apiClient(kc, CustomObjectsApi);
    const watch = new Watch(kc);
    const ns = opts.namespace;
    const nsPath = (group: string, plural: string) =>
      ns ? `${group}/namespaces/${ns}/${plural}` : `${group}/${plural}`;
    const jobs = { group: GROUP, version: VERSION, plural: PLURAL };
    const selector = LABEL_JOB;
    const active = "status.phase!=Succeeded,status.phase!=Failed";
    this.jobCache = this.add(
      "job",
      new ListWatch<StoredJob>(
        nsPath(`/apis/${GROUP}/${VERSION}`, PLURAL),
        watch,
        () =>
          ns
            ? custom.listNamespacedCustomObject({ ...jobs, namespace: ns })
            : custom.listClusterCustomObject(jobs),
        false,
      ),
    );
    this.podCache = this.add(
      "pod",
      new ListWatch<V1Pod>(
        nsPath("/api/v1", "pods"),
        watch,
        () =>
          ns
            ? core.listNamespacedPod({ namespace: ns, labelSelector: selector })
            : core.listPodForAllNamespaces({ labelSelector: selector }),
        false,
        selector,
      ),
    );
    this.serviceCache = this.add(
      "service",
      new ListWatch<V1Service>(
        nsPath("/api/v1", "services"),
        watch,
        () =>
          ns
            ? core.listNamespacedService({ namespace: ns, labelSelector: selector })
            : core.listServiceForAllNamespaces({ labelSelector: selector }),
        false,
        selector,
      ),
    );
    this.nodeCache = this.add(
      "node",
      new ListWatch<V1Node>("/api/v1/nodes", watch, () => core.listNode(), false),
    );
    this.activeCache = this.add(
      "activePod",
      new ListWatch<V1Pod>(
        "/api/v1/pods",
        watch,
        () => core.listPodForAllNamespaces({ fieldSelector: active }),
        false,
        undefined,
        active,
      ),
    );
  }

  private add<T extends KubernetesObject>(kind: Change["kind"], cache: ListWatch<T>): ListWatch<T> {
    for (const verb of ["add", "update", "delete"] as const) {
      cache.on(verb, (object: T) => this.opts.onChange({ kind, verb, object }));
    }
    cache.on("error", (err) => {
      if (this.opts.signal.aborted) return;
      this.opts.logger.warn({ err, kind }, "Lost a watch; restarting it");
      const timer = setTimeout(() => {
        if (!this.opts.signal.aborted) cache.start().catch(() => undefined);
      }, this.opts.restartDelayMs ?? RESTART_DELAY_MS);
      timer.unref();
    });
    this.caches.push(cache as unknown as ListWatch<KubernetesObject>);
    return cache;
  }

  /**
   * Lists everything and starts the watches; resolves once every cache holds a full list (a failed
   * list is retried), so the controller never decides from an empty view. Rejects if the signal aborts.
   */
  async start(): Promise<void> {
    await Promise.all(this.caches.map((c) => c.start()));
    while (this.caches.some((c) => c.latestResourceVersion() === "")) {
      if (this.opts.signal.aborted) throw new Error("stopped before the caches were filled");
      await new Promise((resolve) => setTimeout(resolve, this.opts.restartDelayMs ?? RESTART_DELAY_MS));
    }
  }

  /** Whether every cache has listed once (for readiness). */
  synced(): boolean {
    return this.caches.every((c) => c.latestResourceVersion() !== "");
  }

  async stop(): Promise<void> {
    await Promise.all(this.caches.map((c) => c.stop()));
  }

  job(namespace: string, name: string): StoredJob | undefined {
    return this.jobCache.get(name, namespace);
  }

  jobs(): readonly StoredJob[] {
    return this.jobCache.list();
  }

  podsOf(namespace: string, job: string): readonly V1Pod[] {
    return this.podCache.list(namespace).filter((p) => p.metadata?.labels?.[LABEL_JOB] === job);
  }

  jobPods(): readonly V1Pod[] {
    return this.podCache.list();
  }

  serviceExists(namespace: string, name: string): boolean {
    return this.serviceCache.get(name, namespace) !== undefined;
  }

  nodes(): readonly V1Node[] {
    return this.nodeCache.list();
  }

  activePods(): readonly V1Pod[] {
    return this.activeCache.list();
  }
}
