import { randomUUID } from "node:crypto";
import { jsonPatch, mergePatch } from "./patch.js";

/** An API object as stored: JSON with the metadata the apiserver maintains. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid: string; kind: string; name: string; apiVersion: string; controller?: boolean }[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ResourceType {
  /** "" for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** With a status subresource, writes to the object ignore status and /status writes only change status. */
  statusSubresource: boolean;
  /** A structural schema whose `default`s are applied on every write, as the apiserver does. */
  schema?: Record<string, unknown>;
}

export type WatchType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: WatchType;
  resource: ResourceType;
  object: KubeObject;
  /** The object before a MODIFIED change, so watches can tell it entered or left their selector. */
  previous?: KubeObject;
  rv: number;
}

/** A Kubernetes API error, rendered as a `Status` object by the server. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export class GoneError extends ApiError {
  constructor(rv: number, compacted: number) {
    super(410, "Expired", `too old resource version: ${rv} (${compacted})`);
  }
}

const typeKey = (group: string, plural: string) => `${group}/${plural}`;
const objKey = (t: ResourceType, ns: string | undefined, name: string) =>
  `${typeKey(t.group, t.plural)}|${t.namespaced ? ns : ""}|${name}`;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function applyDefaults(value: unknown, schema: Record<string, unknown> | undefined): unknown {
  if (!schema) return value;
  if (Array.isArray(value) && isObject(schema.items)) {
    return value.map((v) => applyDefaults(v, schema.items as Record<string, unknown>));
  }
  if (!isObject(value) || !isObject(schema.properties)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const [key, sub] of Object.entries(schema.properties as Record<string, Record<string, unknown>>)) {
    if (out[key] === undefined && sub.default !== undefined) out[key] = structuredClone(sub.default);
    if (out[key] !== undefined) out[key] = applyDefaults(out[key], sub);
  }
  return out;
}

/** Everything but metadata and status: a change here bumps metadata.generation. */
function specOf(obj: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = obj;
  return JSON.stringify(rest);
}

export interface StoreOptions {
  /** Watch events kept for resuming watches; older resourceVersions get 410 Gone. */
  historyLimit?: number;
  now?: () => Date;
}

/** The apiserver's storage: objects by type/namespace/name, one resourceVersion counter, an event history. */
export class FakeStore {
  private rv = 0;
  private readonly objects = new Map<string, KubeObject>();
  private history: StoreEvent[] = [];
  /** Watches must start at or after this revision; older ones are answered 410 Gone. */
  private compactedRv = 0;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly types = new Map<string, ResourceType>();
  private readonly historyLimit: number;
  private readonly now: () => Date;

  constructor(opts: StoreOptions = {}) {
    this.historyLimit = opts.historyLimit ?? 10_000;
    this.now = opts.now ?? (() => new Date());
  }

  register(type: ResourceType): void {
    this.types.set(typeKey(type.group, type.plural), type);
  }

  type(group: string, plural: string): ResourceType {
    const t = this.types.get(typeKey(group, plural));
    if (!t)
      throw new ApiError(
        404,
        "NotFound",
        `the server could not find the requested resource (${group}/${plural})`,
      );
    return t;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops the watch history, as etcd compaction does: watches from older versions then get 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  private emit(type: WatchType, resource: ResourceType, object: KubeObject, previous?: KubeObject): void {
    const event = { type, resource, object: structuredClone(object), previous, rv: this.rv };
    this.history.push(event);
    if (this.history.length > this.historyLimit)
      this.history.splice(0, this.history.length - this.historyLimit);
    for (const l of this.listeners) l(event);
  }

  /** Events after `rv`, or GoneError when the history no longer reaches back that far. */
  since(rv: number): StoreEvent[] {
    if (rv < this.compactedRv) throw new GoneError(rv, this.compactedRv);
    return this.history.filter((e) => e.rv > rv);
  }

  list(t: ResourceType, namespace?: string): KubeObject[] {
    const prefix = `${typeKey(t.group, t.plural)}|`;
    return [...this.objects.entries()]
      .filter(
        ([k, o]) => k.startsWith(prefix) && (namespace === undefined || o.metadata.namespace === namespace),
      )
      .map(([, o]) => structuredClone(o));
  }

  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const obj = this.objects.get(objKey(t, namespace, name));
    if (!obj) throw notFound(t, name);
    return structuredClone(obj);
  }

  create(t: ResourceType, namespace: string | undefined, body: KubeObject): KubeObject {
    const meta = body.metadata ?? {};
    const name = meta.name || (meta.generateName ? meta.generateName + randomUUID().slice(0, 5) : "");
    if (!name)
      throw new ApiError(422, "Invalid", "metadata.name: Required value: name or generateName is required");
    const key = objKey(t, namespace, name);
    if (this.objects.has(key)) {
      throw new ApiError(409, "AlreadyExists", `${t.plural} "${name}" already exists`);
    }
    this.rv++;
    const obj = this.withDefaults(t, {
      ...body,
      apiVersion: t.group ? `${t.group}/${t.version}` : t.version,
      kind: t.kind,
      metadata: {
        ...meta,
        name,
        ...(t.namespaced ? { namespace } : {}),
        uid: randomUUID(),
        resourceVersion: String(this.rv),
        generation: 1,
        creationTimestamp: this.timestamp(),
      },
    });
    if (t.statusSubresource) delete obj.status;
    delete obj.metadata.deletionTimestamp;
    this.objects.set(key, obj);
    this.emit("ADDED", t, obj);
    return structuredClone(obj);
  }

  /**
   * PUT: optimistic concurrency on metadata.resourceVersion (409 when stale); with a status
   * subresource the main resource keeps its status and /status keeps everything else.
   */
  replace(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    body: KubeObject,
    subresource?: "status",
  ): KubeObject {
    const key = objKey(t, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw notFound(t, name);
    const sent = body.metadata?.resourceVersion;
    if (sent && sent !== current.metadata.resourceVersion) {
      throw new ApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${t.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    let next: KubeObject;
    if (subresource === "status") {
      next = { ...current, status: body.status };
    } else {
      next = { ...body, metadata: { ...body.metadata } };
      if (t.statusSubresource) next.status = current.status;
      for (const k of ["uid", "creationTimestamp", "generation", "deletionTimestamp"] as const) {
        next.metadata[k] = current.metadata[k] as never;
      }
    }
    next = this.withDefaults(t, { ...next, apiVersion: current.apiVersion, kind: current.kind });
    next.metadata.name = name;
    if (t.namespaced) next.metadata.namespace = namespace;
    if (specOf(next) !== specOf(current)) next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    if (JSON.stringify(next) === JSON.stringify(current)) return structuredClone(current);
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    this.objects.set(key, next);
    this.emit("MODIFIED", t, next, structuredClone(current));
    return structuredClone(next);
  }

  patch(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string,
    patch: unknown,
    subresource?: "status",
  ): KubeObject {
    const current = this.get(t, namespace, name);
    const patched = (
      contentType.includes("json-patch") ? jsonPatch(current, patch as never) : mergePatch(current, patch)
    ) as KubeObject;
    // A patch carries a resourceVersion only when the client asks for the precondition.
    const rv = (patch as KubeObject | undefined)?.metadata?.resourceVersion;
    patched.metadata.resourceVersion =
      contentType.includes("json-patch") || !rv ? current.metadata.resourceVersion : rv;
    return this.replace(t, namespace, name, patched, subresource);
  }

  /** Container output by pod uid: what a kubelet would serve at the pod's `log` subresource. */
  private readonly logs = new Map<string, string>();

  /** Appends `text` to a pod's log (the kubelet's side). */
  appendLog(namespace: string, name: string, text: string): void {
    const t = this.type("", "pods");
    const pod = this.objects.get(objKey(t, namespace, name));
    if (!pod) throw notFound(t, name);
    const uid = pod.metadata.uid!;
    this.logs.set(uid, (this.logs.get(uid) ?? "") + text);
  }

  /** The log of the pod now named `name` (a recreated pod starts empty). */
  log(namespace: string, name: string): string {
    const t = this.type("", "pods");
    const pod = this.objects.get(objKey(t, namespace, name));
    if (!pod) throw notFound(t, name);
    return this.logs.get(pod.metadata.uid!) ?? "";
  }

  /** Deletes at once and, unless orphaned, every object it owns (background cascading deletion). */
  delete(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    propagation = "Background",
  ): KubeObject {
    const key = objKey(t, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw notFound(t, name);
    this.objects.delete(key);
    this.logs.delete(current.metadata.uid!);
    this.rv++;
    const gone = { ...current, metadata: { ...current.metadata, resourceVersion: String(this.rv) } };
    this.emit("DELETED", t, gone);
    this.collectGarbage(current.metadata.uid!, propagation === "Orphan");
    return structuredClone(gone);
  }

  private collectGarbage(ownerUid: string, orphan: boolean): void {
    for (const [key, obj] of [...this.objects.entries()]) {
      const refs = obj.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === ownerUid)) continue;
      const t = this.types.get(key.split("|")[0]!)!;
      if (orphan) {
        const body = {
          ...obj,
          metadata: { ...obj.metadata, ownerReferences: refs.filter((r) => r.uid !== ownerUid) },
        };
        this.replace(t, obj.metadata.namespace, obj.metadata.name!, body);
      } else if (this.objects.has(key)) {
        this.delete(t, obj.metadata.namespace, obj.metadata.name!);
      }
    }
  }

  private withDefaults(t: ResourceType, obj: KubeObject): KubeObject {
    return (t.schema ? applyDefaults(obj, t.schema) : obj) as KubeObject;
  }

  private timestamp(): string {
    return this.now()
      .toISOString()
      .replace(/\.\d+Z$/, "Z");
  }
}

function notFound(t: ResourceType, name: string): ApiError {
  const what = t.group ? `${t.plural}.${t.group}` : t.plural;
  return new ApiError(404, "NotFound", `${what} "${name}" not found`);
}
