import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A test double of the Qdrant REST API: the subset of endpoints rag uses, with Qdrant's request and
 * response shapes (its OpenAPI schema, v1.17), status codes and semantics: cosine vectors normalized
 * on write; named dense and sparse vectors (sparse: unique indices, dot product over shared
 * dimensions, no modifier by default, or `idf`); collection info with the config it was created
 * with; filters with must/should/must_not, `match.value`/`match.any` on dotted payload keys, where
 * an array payload value matches when any element does; the Query API with nearest queries,
 * prefetches (a request's filter also restricts its prefetches), RRF fusion and `with_payload` as
 * a flag or a list of keys. State is in memory; nothing is persisted. Qdrant itself cannot run on
 * our CI machines.
 */
export interface FakeQdrant {
  url: string;
  /** Requests served, as `METHOD path` (for tests that check what went over the wire). */
  requests: string[];
  close(): Promise<void>;
}

interface Sparse {
  indices: number[];
  values: number[];
}

interface Point {
  id: string | number;
  vectors: Record<string, number[]>;
  sparse: Record<string, Sparse>;
  payload: Record<string, unknown>;
  version: number;
}

interface SparseParams {
  modifier?: "none" | "idf" | null;
}

interface Collection {
  vectors: Record<string, { size: number; distance: string }>;
  sparseVectors: Record<string, SparseParams>;
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
interface Body extends QueryBody {
  vectors?: { size?: number } & Record<string, { size: number; distance: string }>;
  sparse_vectors?: Record<string, SparseParams> | null;
  field_name?: string;
  field_schema?: unknown;
  points?:
    | { id: string | number; vector: unknown; payload?: Record<string, unknown> }[]
    | (string | number)[];
  offset?: number;
  with_payload?: boolean | string[];
}

/** What a Query API request and each of its prefetches share. */
interface QueryBody {
  prefetch?: QueryBody | QueryBody[] | null;
  query?: unknown;
  using?: string | null;
  filter?: Filter | null;
  limit?: number | null;
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

const isSparse = (v: unknown): v is Sparse =>
  v !== null && typeof v === "object" && !Array.isArray(v) && "indices" in v && "values" in v;

/**
 * Qdrant's checks of a sparse vector (its OpenAPI: "Indices must be unique", "Values and indices
 * must be the same length"; indices are u32). Qdrant answers these with 422; the fake's wording of
 * the message is its own.
 */
function checkSparse(v: Sparse, at: string): Sparse {
  const { indices, values } = v;
  const u32 = (i: unknown) => Number.isInteger(i) && (i as number) >= 0 && (i as number) <= 0xffffffff;
  if (!Array.isArray(indices) || !indices.every(u32))
    throw new HttpError(400, `Format error in JSON body: ${at}.indices must be u32 integers`);
  if (!Array.isArray(values) || values.length !== indices.length)
    throw new HttpError(
      422,
      `Validation error in JSON body: [${at}: values and indices must be the same length]`,
    );
  if (new Set(indices).size !== indices.length)
    throw new HttpError(422, `Validation error in JSON body: [${at}: indices must be unique]`);
  return { indices: [...indices], values: [...values] };
}

/**
 * Qdrant's IDF modifier (indexing docs, "IDF Modifier"): ln((N − n + 0.5) / (n + 0.5) + 1), N the
 * points that have the sparse vector, n those of them with a non-zero value at the dimension. It is
 * computed over the whole collection (every tenant), never over the filtered points.
 */
function idf(points: Iterable<Point>, name: string, dim: number): number {
  let n = 0;
  let total = 0;
  for (const p of points) {
    const v = p.sparse[name];
    if (!v) continue;
    total++;
    const at = v.indices.indexOf(dim);
    if (at >= 0 && v.values[at] !== 0) n++;
  }
  return Math.log((total - n + 0.5) / (n + 0.5) + 1);
}

/**
 * Qdrant's default RRF constant is k = 2 (`DEFAULT_RRF_K` in its source, and what its docs on tuning
 * hybrid search say), with 0-based positions: a point's score is Σ 1 / (position + k), so the first
 * of a list adds 1/2. The paper's k = 60 over 1-based ranks is k = 61 here. `{fusion: "rrf"}` and
 * `{rrf: {}}` use the default; `{rrf: {k}}` sets it. The fake does not model `rrf.weights` (how a
 * weight enters the formula has changed between Qdrant releases), and refuses it.
 */
export const QDRANT_DEFAULT_RRF_K = 2;

interface Scored {
  p: Point;
  score: number;
}

function rrf(lists: Scored[][], k: number): Scored[] {
  const fused = new Map<string, Scored>();
  for (const list of lists)
    for (const [position, { p }] of list.entries()) {
      const entry = fused.get(String(p.id)) ?? { p, score: 0 };
      entry.score += 1 / (position + k);
      fused.set(String(p.id), entry);
    }
  return [...fused.values()].sort(best);
}

const both = (a: Filter | null | undefined, b: Filter | null | undefined): Filter | undefined =>
  a && b ? { must: [a, b] } : (a ?? b ?? undefined);

/** The fusion a query asks for, or undefined when it is not a fusion. */
function fusionK(query: unknown): number | undefined {
  if (query === null || typeof query !== "object" || Array.isArray(query)) return undefined;
  if ("fusion" in query) {
    if (query.fusion !== "rrf")
      throw new HttpError(
        400,
        `Format error in JSON body: fusion '${String(query.fusion)}' is not modelled by the fake`,
      );
    return QDRANT_DEFAULT_RRF_K;
  }
  if ("rrf" in query) {
    const params = (query.rrf ?? {}) as { k?: number | null; weights?: number[] | null };
    if (params.weights != null)
      throw new HttpError(400, "Format error in JSON body: rrf.weights is not modelled by the fake");
    return params.k ?? QDRANT_DEFAULT_RRF_K;
  }
  return undefined;
}

/** A create-collection body's dense (one unnamed, or named) and sparse vector configs. */
function vectorsConfig(body: Body): Pick<Collection, "vectors" | "sparseVectors"> {
  const v = body?.vectors ?? {};
  const vectors = (typeof v.size === "number" ? { "": v } : v) as Collection["vectors"];
  const sparseVectors = body.sparse_vectors ?? {};
  for (const [name, params] of Object.entries(sparseVectors)) {
    if (vectors[name]) throw new HttpError(400, `Wrong input: Vector name ${name} is used twice`);
    const modifier = params?.modifier ?? "none";
    if (modifier !== "none" && modifier !== "idf")
      throw new HttpError(400, "Format error in JSON body: unknown variant of Modifier");
  }
  return { vectors, sparseVectors };
}

const CONVERSION = "Wrong input: Conversion between sparse and regular vectors failed";

function denseOf(c: Collection, name: string, v: unknown): number[] {
  const spec = c.vectors[name];
  if (!spec) throw new HttpError(400, `Wrong input: Not existing vector name error: ${name}`);
  if (!Array.isArray(v)) throw new HttpError(400, CONVERSION);
  if (v.length !== spec.size)
    throw new HttpError(
      400,
      `Wrong input: Vector dimension error: expected dim: ${spec.size}, got ${v.length}`,
    );
  return normalize(v as number[]);
}

function sparseOf(v: unknown, at: string): Sparse {
  if (!isSparse(v)) throw new HttpError(400, CONVERSION);
  return checkSparse(v, at);
}

/** A point's named vectors, each checked against the collection's config (dense ones normalized). */
function pointVectors(c: Collection, raw: unknown): Pick<Point, "vectors" | "sparse"> {
  const named = Array.isArray(raw) ? { "": raw } : ((raw ?? {}) as Record<string, unknown>);
  const out: Pick<Point, "vectors" | "sparse"> = { vectors: {}, sparse: {} };
  for (const [name, v] of Object.entries(named)) {
    if (c.sparseVectors[name]) out.sparse[name] = sparseOf(v, `vector.${name}`);
    else out.vectors[name] = denseOf(c, name, v);
  }
  return out;
}

const best = (a: Scored, b: Scored) => b.score - a.score;

/** Σ over shared dimensions of query weight × point value; undefined when no dimension is shared. */
function sparseDot(weights: Map<number, number>, v: Sparse): number | undefined {
  let score: number | undefined;
  for (const [at, dim] of v.indices.entries()) {
    const w = weights.get(dim);
    if (w !== undefined) score = (score ?? 0) + w * (v.values[at] as number);
  }
  return score;
}

/**
 * A sparse search: the points that share a dimension with the query (what its inverted index
 * finds), scored by dot product, each query value multiplied by the dimension's IDF under `idf`.
 */
function sparseNearest(c: Collection, using: string, query: unknown, candidates: Point[]): Scored[] {
  const q = sparseOf(query, "query");
  const idfOn = c.sparseVectors[using]?.modifier === "idf";
  const weights = new Map(
    q.indices.map((dim, i) => {
      const value = q.values[i] as number;
      return [dim, idfOn ? value * idf(c.points.values(), using, dim) : value];
    }),
  );
  const scored: Scored[] = [];
  for (const p of candidates) {
    const v = p.sparse[using];
    const score = v && sparseDot(weights, v);
    if (score !== undefined) scored.push({ p, score });
  }
  return scored.sort(best);
}

/** Scores every point that has the vector `using` and matches `filter`, best first. */
function nearest(c: Collection, using: string, query: unknown, filter: Filter | undefined): Scored[] {
  const candidates = [...c.points.values()].filter((p) => filterMatches(filter, p.payload, String(p.id)));
  if (c.sparseVectors[using]) return sparseNearest(c, using, query, candidates);
  const q = denseOf(c, using, query);
  return candidates
    .filter((p) => p.vectors[using])
    .map((p) => ({ p, score: dot(q, p.vectors[using] as number[]) }))
    .sort(best);
}

const listOf = (prefetch: QueryBody["prefetch"]): QueryBody[] =>
  prefetch == null ? [] : Array.isArray(prefetch) ? prefetch : [prefetch];

/** `{nearest: v}` is the same query as `v`. */
function queryOf(body: QueryBody): unknown {
  const raw = body.query ?? null;
  return raw !== null && typeof raw === "object" && "nearest" in raw ? raw.nearest : raw;
}

/**
 * One Query API request or prefetch: its prefetches first (each also restricted by this level's
 * filter: Qdrant propagates a request's filter to every sub-query), then its query over their
 * results (a fusion of the lists, or a vector rescoring their union). Best first, `limit` long.
 */
function evaluate(c: Collection, body: QueryBody, inherited: Filter | undefined): Scored[] {
  const filter = both(inherited, body.filter);
  const prefetches = listOf(body.prefetch);
  const query = queryOf(body);
  const k = fusionK(query);
  const limit = body.limit ?? 10;
  if (k !== undefined && prefetches.length === 0)
    throw new HttpError(400, "Bad request: a fusion query needs prefetches");
  if (query === null)
    throw new HttpError(
      400,
      "Format error in JSON body: a request without a query is not modelled by the fake",
    );
  if (prefetches.length === 0) return nearest(c, body.using ?? "", query, filter).slice(0, limit);
  const lists = prefetches.map((sub) => evaluate(c, sub, filter));
  if (k !== undefined) return rrf(lists, k).slice(0, limit);
  const ids = new Set(lists.flat().map((x) => String(x.p.id)));
  return nearest(c, body.using ?? "", query, filter)
    .filter((x) => ids.has(String(x.p.id)))
    .slice(0, limit);
}

/** The payload a query returns: all of it, none, or the listed top-level keys. */
function payloadOf(p: Point, withPayload: Body["with_payload"]): { payload?: Record<string, unknown> } {
  if (!withPayload) return {};
  if (withPayload === true) return { payload: p.payload };
  return {
    payload: Object.fromEntries(withPayload.filter((k) => k in p.payload).map((k) => [k, p.payload[k]])),
  };
}

/**
 * GET /collections/{name}'s result (Qdrant's CollectionInfo): `config.params.vectors` as created
 * (one unnamed config, or named ones), `config.params.sparse_vectors` only when there are any, each
 * with the `modifier` it was given; the fake's storage and optimizer settings are Qdrant's defaults.
 */
function collectionInfo(c: Collection) {
  const { "": unnamed, ...named } = c.vectors;
  const sparse = Object.keys(c.sparseVectors).length > 0 ? { sparse_vectors: c.sparseVectors } : {};
  return {
    status: "green",
    optimizer_status: "ok",
    indexed_vectors_count: 0,
    points_count: c.points.size,
    segments_count: 1,
    config: {
      params: {
        vectors: unnamed ?? named,
        shard_number: 1,
        replication_factor: 1,
        write_consistency_factor: 1,
        on_disk_payload: true,
        ...sparse,
      },
      hnsw_config: {
        m: 16,
        ef_construct: 100,
        full_scan_threshold: 10000,
        max_indexing_threads: 0,
        on_disk: false,
      },
      optimizer_config: {
        deleted_threshold: 0.2,
        vacuum_min_vector_number: 1000,
        default_segment_number: 0,
        max_segment_size: null,
        memmap_threshold: null,
        indexing_threshold: 10000,
        flush_interval_sec: 5,
        max_optimization_threads: null,
      },
      wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
      quantization_config: null,
    },
    payload_schema: Object.fromEntries(
      [...c.indexes].map(([key, schema]) => [
        key,
        typeof schema === "string"
          ? { data_type: schema, points: c.points.size }
          : { data_type: (schema as { type: string }).type, params: schema, points: c.points.size },
      ]),
    ),
  };
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

  const routes: [string, RegExp, (m: string[], body: Body) => unknown][] = [
    [
      "GET",
      /^\/$/,
      () => ({ title: "qdrant - vector search engine (fake)", version: opts.version ?? "1.17.0" }),
    ],
    ["GET", /^\/collections\/([^/]+)\/exists$/, ([n]) => ({ exists: collections.has(n as string) })],
    ["GET", /^\/collections\/([^/]+)$/, ([n]) => collectionInfo(get(n as string))],
    [
      "PUT",
      /^\/collections\/([^/]+)$/,
      ([n], body) => {
        if (collections.has(n as string))
          throw new HttpError(409, `Wrong input: Collection \`${n}\` already exists!`);
        collections.set(n as string, { ...vectorsConfig(body), points: new Map(), indexes: new Map() });
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
            ...pointVectors(c, p.vector),
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
        // `offset` applies to the request's own results only, never to its prefetches.
        const offset = body.offset ?? 0;
        const points = evaluate(c, { ...body, limit: offset + (body.limit ?? 10) }, undefined)
          .slice(offset)
          .map(({ p, score }) => ({
            id: p.id,
            version: p.version,
            score,
            ...payloadOf(p, body.with_payload),
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
