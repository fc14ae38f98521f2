import { createHash } from "node:crypto";
import type { QdrantClient } from "@qdrant/js-client-rest";
import { FailedPreconditionError } from "@sloughgpt/runtime";
import type { FilterNode } from "../retrieval/filter.js";
import { RRF_K } from "../retrieval/rrf.js";
import type { WeightedTerm } from "../text/analyzer.js";
import { type CollectionFrequencies, querySparseVector, type SparseVector } from "../text/sparse.js";
import type { CollectionRow, SearchHit } from "./store.js";

/**
 * Chunk vectors in Qdrant: one Qdrant collection shared by every rag collection, its points tagged
 * with a payload-indexed tenant field (`<team>/<collection>`, Qdrant's `is_tenant` keyword index) so
 * each search reads one tenant's points only. Each point has two named vectors: `dense` (cosine, the
 * embedding model's) and `sparse` (BM25 term weights from rag's analyzer, text/sparse.ts, with no
 * modifier: the query carries the rag collection's IDF, never one counted over every tenant). The
 * payload keeps the chunk's text and its document's metadata (under `metadata`, what filters match)
 * without the chunks' positions; a search returns the documents' metadata as Postgres keeps it
 * (QdrantCatalog). Lexical search is the sparse vector alone, dense the dense one, hybrid both fused
 * by Qdrant's RRF in one Query API request.
 */
export interface VectorChunk {
  documentId: string;
  index: number;
  text: string;
  vector: number[];
  /** BM25 term weights of the chunk (text/sparse.ts). */
  sparse: SparseVector;
  metadata: Record<string, unknown>;
}

export const DENSE_VECTOR = "dense";
export const SPARSE_VECTOR = "sparse";

const tenantOf = (col: Pick<CollectionRow, "team" | "name">) => `${col.team}/${col.name}`;

/** A point id Qdrant accepts (a UUID), the same for the same chunk every time. Pure. */
export function pointId(
  col: Pick<CollectionRow, "team" | "name">,
  documentId: string,
  index: number,
): string {
  const h = createHash("sha256")
    .update(`${tenantOf(col)}\0${documentId}\0${index}`)
    .digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

type Condition = Record<string, unknown>;

/**
 * Equality on one payload key. Qdrant's `match` takes strings, integers and booleans only; a
 * fractional number is matched as the one-point range [v, v].
 */
function equals(path: string[], value: string | number | boolean): Condition {
  const key = ["metadata", ...path].join(".");
  if (typeof value === "number" && !Number.isInteger(value))
    return { key, range: { gte: value, lte: value } };
  return { key, match: { value } };
}

/**
 * A rag filter as a Qdrant filter over `metadata.*` payload keys. Pure. One difference remains:
 * Qdrant matches a scalar against any element of an array payload value, where rag's semantics
 * (and the Postgres store) never let an array equal a scalar.
 */
export function qdrantFilter(node: FilterNode): Condition {
  switch (node.kind) {
    case "eq":
      return equals(node.path, node.value);
    case "in":
      return { should: node.values.map((value) => equals(node.path, value)) };
    case "and":
      return { must: node.children.map(qdrantFilter) };
    case "or":
      return { should: node.children.map(qdrantFilter) };
  }
}

/** The collection's schema: the two named vectors; no IDF modifier (the query carries rag's). */
export function collectionConfig(size: number) {
  return {
    vectors: { [DENSE_VECTOR]: { size, distance: "Cosine" as const } },
    sparse_vectors: { [SPARSE_VECTOR]: { modifier: "none" as const } },
  };
}

/** The part of Qdrant's collection info (GET /collections/{name}) that the schema check reads. */
export interface CollectionParams {
  vectors?: unknown;
  sparse_vectors?: unknown;
}

const field = (o: unknown, key: string): unknown =>
  o !== null && typeof o === "object" && !Array.isArray(o) ? (o as Record<string, unknown>)[key] : undefined;

/**
 * What makes an existing Qdrant collection unusable for rag (a collection made by an older release,
 * or by something else), or undefined when it has collectionConfig's vectors (`size`: the dense
 * length when it is known). Pure.
 */
export function schemaProblem(params: CollectionParams, size?: number): string | undefined {
  const dense = field(params.vectors, DENSE_VECTOR);
  if (dense === undefined) return `it has no named vector '${DENSE_VECTOR}'`;
  if (field(dense, "distance") !== "Cosine") return `its vector '${DENSE_VECTOR}' is not cosine`;
  if (size !== undefined && field(dense, "size") !== size)
    return `its vector '${DENSE_VECTOR}' has size ${String(field(dense, "size"))}, not ${size}`;
  const sparse = field(params.sparse_vectors, SPARSE_VECTOR);
  if (sparse === undefined) return `it has no sparse vector '${SPARSE_VECTOR}'`;
  const modifier = field(sparse, "modifier") ?? "none";
  if (modifier !== "none")
    return `its sparse vector '${SPARSE_VECTOR}' has modifier '${String(modifier)}', not 'none'`;
  return undefined;
}

/** One tenant's points that match `filter`: what every search and prefetch is restricted to. */
export function tenantFilter(col: Pick<CollectionRow, "team" | "name">, filter?: FilterNode): Condition {
  const must: Condition[] = [{ key: "tenant", match: { value: tenantOf(col) } }];
  if (filter) must.push(qdrantFilter(filter));
  return { must };
}

export interface QueryOptions {
  topK: number;
  filter?: FilterNode | undefined;
}

/** What a search reads back: the chunk, not the metadata (Postgres's is returned). */
const RESULT = { with_payload: ["document_id", "idx", "text"] };

/** A Query API request for the nearest points by one named vector (dense or sparse). Pure. */
export function nearestRequest(
  col: Pick<CollectionRow, "team" | "name">,
  using: typeof DENSE_VECTOR | typeof SPARSE_VECTOR,
  query: number[] | SparseVector,
  opts: QueryOptions,
) {
  return { query, using, filter: tenantFilter(col, opts.filter), limit: opts.topK, ...RESULT };
}

/** Hybrid search's list depth and RRF constant (`k`: rag's, over ranks from 1; retrieval/rrf.ts). */
export interface HybridOptions extends QueryOptions {
  depth: number;
  k?: number | undefined;
}

/**
 * A Query API request for hybrid search: the `depth` best points by each vector (each prefetch
 * restricted to the tenant and `filter`, so `topK` matching points come back whenever they exist),
 * fused by Qdrant's unweighted RRF with rag's k. Qdrant scores 1 / (k' + position) over positions
 * from 0, so rag's 1 / (k + rank) over ranks from 1 is k' = k + 1 (`rrf.k`, Qdrant 1.16 and later).
 * Pure.
 */
export function hybridRequest(
  col: Pick<CollectionRow, "team" | "name">,
  query: { dense: number[]; sparse: SparseVector },
  opts: HybridOptions,
) {
  const filter = tenantFilter(col, opts.filter);
  const limit = Math.max(opts.depth, opts.topK);
  return {
    prefetch: [
      { query: query.dense, using: DENSE_VECTOR, filter, limit },
      { query: query.sparse, using: SPARSE_VECTOR, filter, limit },
    ],
    query: { rrf: { k: (opts.k ?? RRF_K) + 1 } },
    limit: opts.topK,
    ...RESULT,
  };
}

/**
 * A point as the upsert request carries it: both vectors, and the payload that filters match. The
 * chunk's VectorChunk metadata is the document's without its positions (vectorChunks).
 */
export function pointOf(col: CollectionRow, c: VectorChunk) {
  return {
    id: pointId(col, c.documentId, c.index),
    vector: { [DENSE_VECTOR]: c.vector, [SPARSE_VECTOR]: c.sparse },
    payload: {
      tenant: tenantOf(col),
      document_id: c.documentId,
      idx: c.index,
      text: c.text,
      metadata: c.metadata,
    },
  };
}

type Payload = { document_id: string; idx: number; text: string };

/**
 * The hits of `points` whose documents Postgres holds, each with that document's metadata (a point
 * whose document is not, or no longer, committed is left out). Pure.
 */
export function hitsOf(
  points: { score: number; payload?: Record<string, unknown> | null }[],
  metadata: ReadonlyMap<string, Record<string, unknown>>,
): SearchHit[] {
  return points.flatMap((p) => {
    const payload = (p.payload ?? {}) as Payload;
    const meta = metadata.get(payload.document_id);
    if (!meta) return [];
    return [
      {
        documentId: payload.document_id,
        chunkId: `${payload.document_id}#${payload.idx}`,
        index: payload.idx,
        score: p.score,
        text: payload.text,
        metadata: meta,
      },
    ];
  });
}

/** What searches of Qdrant read from Postgres (RagStore's database; qdrant-chunks.ts). */
export interface QdrantCatalog {
  /** The rag collection's chunk count and the frequencies of `terms` in it: the query's IDF. */
  frequencies(col: CollectionRow, terms: string[]): Promise<CollectionFrequencies>;
  /** The metadata of those of the documents that exist, by id. */
  metadata(col: CollectionRow, documentIds: string[]): Promise<Map<string, Record<string, unknown>>>;
}

export class QdrantVectors {
  private ready: Promise<void> | undefined;
  private catalog: QdrantCatalog | undefined;
  /** Whether searches found the collection usable (ensure checks it again, with the vector length). */
  private checked = false;

  constructor(
    private readonly client: QdrantClient,
    private readonly collection = "sloughgpt_rag",
  ) {}

  /** Called by the RagStore that keeps the collections' documents and statistics (one per instance). */
  attach(catalog: QdrantCatalog): void {
    if (this.catalog && this.catalog !== catalog)
      throw new Error("QdrantVectors is already attached to another store");
    this.catalog = catalog;
  }

  private requireCatalog(): QdrantCatalog {
    if (!this.catalog) throw new Error("QdrantVectors is used without a RagStore (attach)");
    return this.catalog;
  }

  /** Its params (vectors and sparse vectors) when the shared collection exists. */
  private async params(): Promise<CollectionParams | undefined> {
    const { exists } = await this.client.collectionExists(this.collection);
    if (!exists) return undefined;
    return (await this.client.getCollection(this.collection)).config.params as CollectionParams;
  }

  /** Fails when the existing collection lacks what rag writes and searches (schemaProblem). */
  private check(params: CollectionParams, size?: number): void {
    const problem = schemaProblem(params, size);
    if (!problem) return;
    throw new FailedPreconditionError(
      `Qdrant collection '${this.collection}' cannot be used: ${problem}. It was made by an older ` +
        `release or another program: delete it (DELETE /collections/${this.collection}), then upload the ` +
        "documents of every collection with store 'qdrant' again (delete them first: unchanged documents " +
        "are skipped); rag creates it on the next write",
      { reason: "qdrant_collection_incompatible" },
    );
  }

  /**
   * Creates the shared collection and its payload indexes on first use (`size`: the vector length),
   * or checks that the existing one has rag's vectors.
   */
  private ensure(size: number): Promise<void> {
    this.ready ??= (async () => {
      const params = await this.params();
      if (params) return this.check(params, size);
      await this.client.createCollection(this.collection, collectionConfig(size));
      await this.client.createPayloadIndex(this.collection, {
        field_name: "tenant",
        field_schema: { type: "keyword", is_tenant: true },
        wait: true,
      });
      await this.client.createPayloadIndex(this.collection, {
        field_name: "document_id",
        field_schema: "keyword",
        wait: true,
      });
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Whether the collection exists (checked once it does: a search of an unusable one fails). */
  private async exists(): Promise<boolean> {
    if (this.ready) {
      await this.ready;
      return true;
    }
    if (this.checked) return true;
    const params = await this.params();
    if (!params) return false;
    this.check(params);
    this.checked = true;
    return true;
  }

  /**
   * Replaces every vector of the given documents with `chunks` (which may be none: a removal). The
   * new points are written first (a chunk's point id is stable, so they overwrite), then the
   * documents' other points are deleted: a failure half-way leaves old or new vectors, never none.
   */
  async replace(col: CollectionRow, documentIds: string[], chunks: VectorChunk[]): Promise<void> {
    const first = chunks[0];
    if (first) await this.ensure(first.vector.length);
    else if (!(await this.exists())) return;
    const points = chunks.map((c) => pointOf(col, c));
    if (points.length > 0) await this.client.upsert(this.collection, { wait: true, points });
    if (documentIds.length > 0)
      await this.removeDocuments(
        col,
        documentIds,
        points.map((p) => p.id),
      );
  }

  /** Deletes the documents' points, except `keep` (point ids). */
  async removeDocuments(col: CollectionRow, documentIds: string[], keep: string[] = []): Promise<void> {
    await this.client.delete(this.collection, {
      wait: true,
      filter: {
        must: [
          { key: "tenant", match: { value: tenantOf(col) } },
          { key: "document_id", match: { any: documentIds } },
        ],
        ...(keep.length > 0 ? { must_not: [{ has_id: keep }] } : {}),
      },
    });
  }

  /** The `topK` nearest chunks of the collection that match `filter` (applied inside Qdrant's search). */
  async nearest(col: CollectionRow, vector: number[], opts: QueryOptions): Promise<SearchHit[]> {
    return this.query(col, opts.topK, () => nearestRequest(col, DENSE_VECTOR, vector, opts));
  }

  /** The `topK` best chunks by BM25 of weighted terms (IDF of the rag collection), among those matching `filter`. */
  async lexical(col: CollectionRow, terms: WeightedTerm[], opts: QueryOptions): Promise<SearchHit[]> {
    const sparse = await this.sparseQuery(col, terms);
    if (sparse.indices.length === 0) return [];
    return this.query(col, opts.topK, () => nearestRequest(col, SPARSE_VECTOR, sparse, opts));
  }

  /** Both lists, `depth` deep, fused by Qdrant's RRF into the `topK` best, in one request. */
  async hybrid(
    col: CollectionRow,
    query: { dense: number[]; terms: WeightedTerm[] },
    opts: HybridOptions,
  ): Promise<SearchHit[]> {
    const sparse = await this.sparseQuery(col, query.terms);
    if (sparse.indices.length === 0) return this.nearest(col, query.dense, opts);
    return this.query(col, opts.topK, () => hybridRequest(col, { dense: query.dense, sparse }, opts));
  }

  /** The query's sparse vector: each term's weight times its IDF in the rag collection. */
  private async sparseQuery(col: CollectionRow, terms: WeightedTerm[]): Promise<SparseVector> {
    const positive = terms.filter((t) => t.weight > 0);
    if (positive.length === 0) return { indices: [], values: [] };
    const freq = await this.requireCatalog().frequencies(col, [...new Set(positive.map((t) => t.term))]);
    return querySparseVector(positive, freq);
  }

  private async query(col: CollectionRow, topK: number, request: () => object): Promise<SearchHit[]> {
    const catalog = this.requireCatalog();
    if (topK <= 0 || !(await this.exists())) return [];
    const res = await this.client.query(this.collection, request() as never);
    const ids = [...new Set(res.points.map((p) => String(p.payload?.document_id)))];
    return hitsOf(res.points, ids.length > 0 ? await catalog.metadata(col, ids) : new Map());
  }
}
