import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { PatchTestFailed } from "./patch.js";
import { fieldSelector, labelSelector } from "./selectors.js";
import {
  ApiError,
  FakeStore,
  type KubeObject,
  type ResourceType,
  type StoreEvent,
  type StoreOptions,
} from "./store.js";

/** The built-in kinds the training controller uses. */
export const builtinTypes: ResourceType[] = [
  { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true, statusSubresource: true },
  {
    group: "",
    version: "v1",
    plural: "services",
    kind: "Service",
    namespaced: true,
    statusSubresource: true,
  },
  { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false, statusSubresource: true },
  {
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    namespaced: false,
    statusSubresource: true,
  },
  { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true, statusSubresource: false },
  {
    group: "",
    version: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    namespaced: true,
    statusSubresource: false,
  },
  {
    group: "events.k8s.io",
    version: "v1",
    plural: "events",
    kind: "Event",
    namespaced: true,
    statusSubresource: false,
  },
  {
    group: "coordination.k8s.io",
    version: "v1",
    plural: "leases",
    kind: "Lease",
    namespaced: true,
    statusSubresource: false,
  },
];

type Json = Record<string, unknown>;

/** A CustomResourceDefinition's storage version as a resource type, schema defaults included. */
export function crdType(crd: Json): ResourceType {
  const spec = crd.spec as Json;
  const names = spec.names as Json;
  const versions = spec.versions as Json[];
  const version = versions.find((v) => v.storage) ?? versions[0]!;
  return {
    group: spec.group as string,
    version: version.name as string,
    plural: names.plural as string,
    kind: names.kind as string,
    namespaced: spec.scope === "Namespaced",
    statusSubresource: (version.subresources as Json | undefined)?.status !== undefined,
    schema: (version.schema as Json | undefined)?.openAPIV3Schema as Json | undefined,
  };
}

interface Route {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: "status" | "log";
}

/** `/api/v1/...` or `/apis/<group>/<version>/...`, then `[namespaces/<ns>/]<plural>[/<name>[/status]]`. */
function route(store: FakeStore, pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  const [group, rest] =
    parts[0] === "api" ? ["", parts.slice(2)] : parts[0] === "apis" ? [parts[1]!, parts.slice(3)] : ["", []];
  if (rest.length === 0) throw new ApiError(404, "NotFound", `the server could not find ${pathname}`);
  const namespaced = rest[0] === "namespaces" && rest.length >= 3;
  const [namespace, plural, name, sub] = namespaced
    ? [rest[1], rest[2]!, rest[3], rest[4]]
    : [undefined, rest[0]!, rest[1], rest[2]];
  if (sub !== undefined && sub !== "status" && !(sub === "log" && group === "" && plural === "pods")) {
    throw new ApiError(404, "NotFound", `no subresource ${sub}`);
  }
  return { type: store.type(group, plural), namespace, name, subresource: sub as Route["subresource"] };
}

/** The last `tail` lines of a log (all of it when `tail` is null), keeping the final newline. */
function tailLines(text: string, tail: string | null): string {
  if (tail === null) return text;
  const lines = text.split("\n");
  const ended = text.endsWith("\n");
  if (ended) lines.pop();
  const kept = lines.slice(Math.max(0, lines.length - Number(tail)));
  return kept.join("\n") + (ended && kept.length ? "\n" : "");
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function status(err: ApiError): Json {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: err.message,
    reason: err.reason,
    code: err.code,
  };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "BadRequest", "the request body is not JSON");
  }
}

export interface FakeKubeApiServerOptions extends StoreOptions {
  /** CustomResourceDefinitions to serve, as parsed YAML. */
  crds?: Json[];
}

/**
 * A fake kube-apiserver for tests: a test double, not a Kubernetes. It speaks the real REST and watch
 * protocol over HTTP (so the real @kubernetes/client-node talks to it) for the kinds it is given:
 * get/list/watch with resourceVersion and label/field selectors, create, replace (409 on a stale
 * resourceVersion), merge and JSON patch, delete with ownerReference garbage collection, status
 * subresources and CRD schema defaults. It does not validate schemas, run admission webhooks,
 * authenticate, paginate, or delete pods gracefully (they vanish at once).
 */
export class FakeKubeApiServer {
  readonly store: FakeStore;
  private readonly server: Server;
  private readonly watches = new Set<ServerResponse>();
  private readonly faults: { method: string; path: RegExp; times: number; code: number }[] = [];
  private address = "";

  constructor(opts: FakeKubeApiServerOptions = {}) {
    this.store = new FakeStore(opts);
    for (const t of builtinTypes) this.store.register(t);
    for (const crd of opts.crds ?? []) this.store.register(crdType(crd));
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.address = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  get url(): string {
    return this.address;
  }

  /** Options for client-node's `KubeConfig.loadFromOptions`. */
  kubeConfigOptions(namespace = "default") {
    return {
      clusters: [{ name: "fake", server: this.url, skipTLSVerify: true }],
      users: [{ name: "fake" }],
      contexts: [{ name: "fake", cluster: "fake", user: "fake", namespace }],
      currentContext: "fake",
    };
  }

  /** Answers the next `times` matching requests with `code` (a Status body), as an overloaded apiserver. */
  failNext(fault: { method: string; path: RegExp; times: number; code?: number }): void {
    this.faults.push({ code: 500, ...fault });
  }

  private injectedFault(req: IncomingMessage, pathname: string): ApiError | undefined {
    const fault = this.faults.find((f) => f.times > 0 && f.method === req.method && f.path.test(pathname));
    if (!fault) return undefined;
    fault.times--;
    return new ApiError(fault.code, "InternalError", "injected failure");
  }

  /** Ends every open watch, as a dropped connection or an apiserver restart would. */
  closeWatches(): void {
    for (const res of this.watches) res.end();
    this.watches.clear();
  }

  async close(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof ApiError) send(res, err.code, status(err));
    else if (err instanceof PatchTestFailed)
      send(res, 422, status(new ApiError(422, "Invalid", err.message)));
    else send(res, 500, status(new ApiError(500, "InternalError", String(err))));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const fault = this.injectedFault(req, url.pathname);
    if (fault) throw fault;
    const r = route(this.store, url.pathname);
    const body = (await readBody(req)) as KubeObject | undefined;
    if (req.method === "GET") this.read(res, r, url.searchParams);
    else this.write(req, res, r, body, url.searchParams);
  }

  private read(res: ServerResponse, r: Route, params: URLSearchParams): void {
    if (r.subresource === "log") this.podLog(res, r.namespace!, r.name!, params);
    else if (r.name !== undefined) send(res, 200, this.store.get(r.type, r.namespace, r.name));
    else if (params.get("watch") === "true" || params.get("watch") === "1") this.watch(res, r, params);
    else send(res, 200, this.list(r, params));
  }

  private write(
    req: IncomingMessage,
    res: ServerResponse,
    r: Route,
    body: KubeObject | undefined,
    params: URLSearchParams,
  ): void {
    const { type, namespace, name } = r;
    if (r.subresource === "log") throw new ApiError(405, "MethodNotAllowed", `${req.method} on a pod's log`);
    const subresource = r.subresource;
    if (req.method === "POST") {
      if (!body) throw new ApiError(400, "BadRequest", "a body is required");
      send(res, 201, this.store.create(type, namespace, body));
      return;
    }
    if (name === undefined) throw new ApiError(405, "MethodNotAllowed", `${req.method} needs an object name`);
    if (req.method === "PUT") {
      if (!body) throw new ApiError(400, "BadRequest", "a body is required");
      send(res, 200, this.store.replace(type, namespace, name, body, subresource));
    } else if (req.method === "PATCH") {
      const contentType = req.headers["content-type"] ?? "";
      send(res, 200, this.store.patch(type, namespace, name, contentType, body, subresource));
    } else if (req.method === "DELETE") {
      const propagation = (body as Json | undefined)?.propagationPolicy ?? params.get("propagationPolicy");
      send(res, 200, this.store.delete(type, namespace, name, (propagation as string | null) ?? undefined));
    } else {
      throw new ApiError(405, "MethodNotAllowed", `${req.method} is not supported`);
    }
  }

  /**
   * `GET …/pods/{name}/log` as the apiserver answers it from the kubelet: text/plain, `container`
   * (required when the pod has several), `tailLines`, `limitBytes` (bytes, may cut a character). `follow`,
   * `previous`, `timestamps` and `since*` are not supported (400).
   */
  private podLog(res: ServerResponse, namespace: string, name: string, params: URLSearchParams): void {
    const pod = this.store.get(this.store.type("", "pods"), namespace, name) as KubeObject & {
      spec?: { containers?: { name: string }[] };
      status?: { phase?: string };
    };
    const containers = (pod.spec?.containers ?? []).map((c) => c.name);
    const container = params.get("container") ?? (containers.length === 1 ? containers[0] : undefined);
    if (container === undefined) {
      throw new ApiError(
        400,
        "BadRequest",
        `a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]`,
      );
    }
    if (!containers.includes(container)) {
      throw new ApiError(400, "BadRequest", `container ${container} is not valid for pod ${name}`);
    }
    const unsupported = ["follow", "previous", "timestamps", "sinceSeconds", "sinceTime"].find(
      (p) => params.has(p) && params.get(p) !== "false",
    );
    if (unsupported) {
      throw new ApiError(400, "BadRequest", `${unsupported} is not supported by the fake API server`);
    }
    if ((pod.status?.phase ?? "Pending") === "Pending") {
      throw new ApiError(
        400,
        "BadRequest",
        `container "${container}" in pod "${name}" is waiting to start: ContainerCreating`,
      );
    }
    for (const p of ["tailLines", "limitBytes"]) {
      const v = params.get(p);
      if (v !== null && !/^\d+$/.test(v)) throw new ApiError(400, "BadRequest", `${p}: must be a number ≥ 0`);
    }
    const text = Buffer.from(tailLines(this.store.log(namespace, name), params.get("tailLines")));
    const limit = params.get("limitBytes");
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(limit === null ? text : text.subarray(0, Number(limit)));
  }

  private matcher(r: Route, params: URLSearchParams): (o: KubeObject) => boolean {
    const labels = labelSelector(params.get("labelSelector"));
    const fields = fieldSelector(params.get("fieldSelector"));
    return (o) =>
      (r.namespace === undefined || o.metadata.namespace === r.namespace) &&
      labels(o as never) &&
      fields(o as never);
  }

  private list(r: Route, params: URLSearchParams): Json {
    const items = this.store.list(r.type, r.namespace).filter(this.matcher(r, params));
    const apiVersion = r.type.group ? `${r.type.group}/${r.type.version}` : r.type.version;
    return {
      apiVersion,
      kind: `${r.type.kind}List`,
      metadata: { resourceVersion: this.store.resourceVersion },
      items,
    };
  }

  private watch(res: ServerResponse, r: Route, params: URLSearchParams): void {
    const matches = this.matcher(r, params);
    const write = (type: string, object: unknown) => {
      // An ended stream (closeWatches, a timeout) stays subscribed until its 'close' event.
      if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
    };
    // As the apiserver does, an object that starts or stops matching the selector arrives as ADDED or DELETED.
    const forward = (e: StoreEvent) => {
      if (e.resource !== r.type) return;
      const now = matches(e.object);
      const before = e.type === "MODIFIED" && e.previous ? matches(e.previous) : now;
      if (now && before) write(e.type, e.object);
      else if (now) write("ADDED", e.object);
      else if (before) write("DELETED", e.object);
    };
    const from = params.get("resourceVersion");
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    this.watches.add(res);
    let backlog: StoreEvent[];
    if (!from || from === "0") {
      backlog = this.store
        .list(r.type, r.namespace)
        .filter(matches)
        .map((object) => ({ type: "ADDED", resource: r.type, object, rv: 0 }));
    } else {
      try {
        backlog = this.store.since(Number(from));
      } catch (err) {
        write("ERROR", status(err as ApiError));
        res.end();
        return;
      }
    }
    for (const e of backlog) forward(e);
    const unsubscribe = this.store.subscribe(forward);
    const timeout = Number(params.get("timeoutSeconds") ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on("close", () => {
      unsubscribe();
      clearTimeout(timer);
      this.watches.delete(res);
    });
  }
}
