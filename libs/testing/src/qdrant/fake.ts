import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A test double of the Qdrant REST API: the subset of endpoints rag uses, with Qdrant's request and
 * response shapes, status codes and semantics (cosine vectors normalized on write; named vectors;
 * filters with must/should/must_not, `match.value`/`match.any` on dotted payload keys, where an array
 * payload value matches when any element does). State is in memory; nothing is persisted. Qdrant
 * itself cannot run on our CI machines.
 */
export interface FakeQdrant {
  url: string;
  /** Requests served, as `METHOD path` (for tests that check what went over the wire). */
  requests: string[];
  close(): Promise<void>;
}

interface Point {
  id: string | number;
  vectors: Record<string, number[]>;
  payload: Record<string, unknown>;
  version: number;
}

interface Collection {
  vectors: Record<string, { size: number; distance: string }>;
  points: Map<string, Point>;
  indexes: Map<string, unknown>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Request bodies of the endpoints served, as Qdrant's OpenAPI names their fields. */
interface Body {
  vectors?: { size?: number } & Record<string, { size: number; distance: string }>;
  field_name?: string;
  field_schema?: unknown;
  points?:
    | { id: string | number; vector: unknown; payload?: Record<string, unknown> }[]
    | (string | number)[];
  filter?: Filter;
  query?: unknown;
  using?: string;
  limit?: number;
  offset?: number;
  with_payload?: boolean;
}

type Filter = {
  must?: Condition[] | Condition;
  should?: Condition[] | Condition;
  must_not?: Condition[] | Condition;
};
type Condition = Filter & {
  key?: string;
  match?: { value?: unknown; any?: unknown[] };
  range?: { gt?: number; gte?: number; lt?: number; lte?: number };
  has_id?: (string | number)[];
};

/** Qdrant's match values: keyword, integer or bool; anything else is a JSON format error (400). */
function checkMatchValue(v: unknown): void {
  const ok =
    typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isInteger(v));
  if (!ok)
    throw new HttpError(
      400,
      "Format error in JSON body: data did not match any variant of untagged enum ValueVariants",
    );
}

function inRange(v: unknown, r: NonNullable<Condition["range"]>): boolean {
  if (typeof v !== "number") return false;
  return (
    (r.gt === undefined || v > r.gt) &&
    (r.gte === undefined || v >= r.gte) &&
    (r.lt === undefined || v < r.lt) &&
    (r.lte === undefined || v <= r.lte)
  );
}

const list = (c: Condition[] | Condition | undefined): Condition[] =>
  c === undefined ? [] : Array.isArray(c) ? c : [c];

function valuesAt(payload: unknown, key: string): unknown[] {
  let current: unknown[] = [payload];
  for (const part of key.split(".")) {
    current = current.flatMap((v) => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return [];
      const next = (v as Record<string, unknown>)[part];
      return next === undefined ? [] : [next];
    });
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

function matches(cond: Condition, payload: Record<string, unknown>, id: string): boolean {
  if (cond.has_id !== undefined) return cond.has_id.some((x) => String(x) === id);
  if (cond.key !== undefined) {
    const values = valuesAt(payload, cond.key);
    const range = cond.range;
    if (range) return values.some((v) => inRange(v, range));
    const m = cond.match ?? {};
    if (m.any !== undefined) {
      m.any.forEach(checkMatchValue);
      return values.some((v) => (m.any as unknown[]).some((x) => x === v));
    }
    if ("value" in m) {
      checkMatchValue(m.value);
      return values.some((v) => v === m.value);
    }
    throw new HttpError(400, `Format error in JSON body: unsupported condition on '${cond.key}'`);
  }
  return filterMatches(cond, payload, id);
}

function filterMatches(f: Filter | undefined, payload: Record<string, unknown>, id: string): boolean {
  if (!f) return true;
  const must = list(f.must).every((c) => matches(c, payload, id));
  const should = list(f.should);
  const any = should.length === 0 || should.some((c) => matches(c, payload, id));
  const none = list(f.must_not).every((c) => !matches(c, payload, id));
  return must && any && none;
}

const normalize = (v: number[]) => {
  const n = Math.hypot(...v) || 1;
  return v.map((x) => x / n);
};

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

export async function startFakeQdrant(opts: { version?: string } = {}): Promise<FakeQdrant> {
  const collections = new Map<string, Collection>();
  const requests: string[] = [];
  let version = 0;

  const get = (name: string) => {
    const c = collections.get(name);
    if (!c) throw new HttpError(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return c;
  };

  const vectorsOf = (c: Collection, raw: unknown): Record<string, number[]> => {
    const named = Array.isArray(raw) ? { "": raw as number[] } : (raw as Record<string, number[]>);
    for (const [name, v] of Object.entries(named)) {
      const spec = c.vectors[name];
      if (!spec) throw new HttpError(400, `Wrong input: Not existing vector name error: ${name}`);
      if (v.length !== spec.size)
        throw new HttpError(
          400,
          `Wrong input: Vector dimension error: expected dim: ${spec.size}, got ${v.length}`,
        );
    }
    return Object.fromEntries(Object.entries(named).map(([k, v]) => [k, normalize(v)]));
  };

  const routes: [string, RegExp, (m: string[], body: Body) => unknown][] = [
    [
      "GET",
      /^\/$/,
      () => ({ title: "qdrant - vector search engine (fake)", version: opts.version ?? "1.17.0" }),
    ],
    ["GET", /^\/collections\/([^/]+)\/exists$/, ([n]) => ({ exists: collections.has(n as string) })],
    [
      "PUT",
      /^\/collections\/([^/]+)$/,
      ([n], body) => {
        if (collections.has(n as string))
          throw new HttpError(409, `Wrong input: Collection \`${n}\` already exists!`);
        const v = body?.vectors ?? {};
        const vectors = (typeof v.size === "number" ? { "": v } : v) as Collection["vectors"];
        collections.set(n as string, { vectors, points: new Map(), indexes: new Map() });
        return true;
      },
    ],
    [
      "PUT",
      /^\/collections\/([^/]+)\/index$/,
      ([n], body) => {
        get(n as string).indexes.set(String(body.field_name), body.field_schema);
        return { operation_id: ++version, status: "completed" };
      },
    ],
    [
      "PUT",
      /^\/collections\/([^/]+)\/points$/,
      ([n], body) => {
        const c = get(n as string);
        for (const p of (body.points ?? []) as Exclude<Body["points"], (string | number)[] | undefined>) {
          c.points.set(String(p.id), {
            id: p.id,
            vectors: vectorsOf(c, p.vector),
            payload: p.payload ?? {},
            version: ++version,
          });
        }
        return { operation_id: version, status: "completed" };
      },
    ],
    [
      "POST",
      /^\/collections\/([^/]+)\/points\/delete$/,
      ([n], body) => {
        const c = get(n as string);
        if (Array.isArray(body.points)) for (const id of body.points) c.points.delete(String(id));
        else if (body.filter) {
          for (const [id, p] of c.points) if (filterMatches(body.filter, p.payload, id)) c.points.delete(id);
        } else throw new HttpError(400, "Format error in JSON body: expected points or filter");
        return { operation_id: ++version, status: "completed" };
      },
    ],
    [
      "POST",
      /^\/collections\/([^/]+)\/points\/query$/,
      ([n], body) => {
        const c = get(n as string);
        const using = body.using ?? "";
        const spec = c.vectors[using];
        if (!spec) throw new HttpError(400, `Wrong input: Not existing vector name error: ${using}`);
        if (!Array.isArray(body.query))
          throw new HttpError(400, "Format error in JSON body: only a dense vector query is supported");
        if (body.query.length !== spec.size)
          throw new HttpError(
            400,
            `Wrong input: Vector dimension error: expected dim: ${spec.size}, got ${body.query.length}`,
          );
        const q = normalize(body.query as number[]);
        const [offset, limit] = [body.offset ?? 0, body.limit ?? 10];
        const points = [...c.points.values()]
          .filter((p) => p.vectors[using] && filterMatches(body.filter, p.payload, String(p.id)))
          .map((p) => ({ p, score: dot(q, p.vectors[using] as number[]) }))
          .sort((a, b) => b.score - a.score)
          .slice(offset, offset + limit)
          .map(({ p, score }) => ({
            id: p.id,
            version: p.version,
            score,
            ...(body.with_payload ? { payload: p.payload } : {}),
          }));
        return { points };
      },
    ],
  ];

  const handle = (method: string, path: string, raw: Buffer[]): { status: number; body: unknown } => {
    const started = process.hrtime.bigint();
    const time = () => Number(process.hrtime.bigint() - started) / 1e9;
    requests.push(`${method} ${path}`);
    try {
      const route = routes.find(([m, re]) => m === method && re.test(path));
      if (!route) throw new HttpError(404, `Not found: ${method} ${path}`);
      const m = (route[1].exec(path) ?? []).slice(1).map(decodeURIComponent);
      const body = (raw.length ? JSON.parse(Buffer.concat(raw).toString("utf8")) : {}) as Body;
      const result = route[2](m, body);
      return { status: 200, body: path === "/" ? result : { result, status: "ok", time: time() } };
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 400;
      return { status, body: { status: { error: (err as Error).message }, time: time() } };
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      const out = handle(req.method ?? "GET", path, chunks);
      res.writeHead(out.status, { "content-type": "application/json" });
      res.end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The client keeps connections alive; close would otherwise wait for them.
        server.closeAllConnections();
      }),
  };
}
