import { createHash } from "node:crypto";
import type { QdrantClient } from "@qdrant/js-client-rest";
import type { FilterNode } from "../retrieval/filter.js";
import type { SparseVector } from "../text/sparse.js";
import type { CollectionRow, SearchHit } from "./store.js";

/**
 * Chunk vectors in Qdrant: one Qdrant collection shared by every rag collection, its points tagged
 * with a payload-indexed tenant field (`<team>/<collection>`, Qdrant's `is_tenant` keyword index) so
 * each search reads one tenant's points only. Each point has two named vectors: `dense` (cosine, the
 * embedding model's) and `sparse` (BM25 term weights from rag's analyzer, text/sparse.ts, with
 * Qdrant's `idf` modifier supplying the IDF). The payload keeps the chunk's text and its document's
 * metadata (under `metadata`), so a search needs no second read. Lexical search is the sparse vector
 * alone, dense the dense one, hybrid both fused by Qdrant's RRF in one Query API request.
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

/** The collection's schema: the two named vectors, IDF applied by Qdrant to the sparse one. */
export function collectionConfig(size: number) {
  return {
    vectors: { [DENSE_VECTOR]: { size, distance: "Cosine" as const } },
    sparse_vectors: { [SPARSE_VECTOR]: { modifier: "idf" as const } },
  };
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

const RESULT = { with_payload: true } as const;

/** A Query API request for the nearest points by one named vector (dense or sparse). Pure. */
export function nearestRequest(
  col: Pick<CollectionRow, "team" | "name">,
  using: typeof DENSE_VECTOR | typeof SPARSE_VECTOR,
  query: number[] | SparseVector,
  opts: QueryOptions,
) {
  return { query, using, filter: tenantFilter(col, opts.filter), limit: opts.topK, ...RESULT };
}

/**
 * A Query API request for hybrid search: the `depth` best points by each vector (each prefetch
 * restricted to the tenant and `filter`, so `topK` matching points come back whenever they exist),
 * fused by Qdrant's RRF (`{fusion: "rrf"}`: equal weights, Qdrant's default k). Pure.
 */
export function hybridRequest(
  col: Pick<CollectionRow, "team" | "name">,
  query: { dense: number[]; sparse: SparseVector },
  opts: QueryOptions & { depth: number },
) {
  const filter = tenantFilter(col, opts.filter);
  const limit = Math.max(opts.depth, opts.topK);
  return {
    prefetch: [
      { query: query.dense, using: DENSE_VECTOR, filter, limit },
      { query: query.sparse, using: SPARSE_VECTOR, filter, limit },
    ],
    query: { fusion: "rrf" as const },
    limit: opts.topK,
    ...RESULT,
  };
}

/** A point as the upsert request carries it: the sparse vector always, the dense one when given. */
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

type Payload = { document_id: string; idx: number; text: string; metadata?: Record<string, unknown> };

function toHit(p: { score: number; payload?: Record<string, unknown> | null }): SearchHit {
  const payload = (p.payload ?? {}) as Payload;
  return {
    documentId: payload.document_id,
    chunkId: `${payload.document_id}#${payload.idx}`,
    index: payload.idx,
    score: p.score,
    text: payload.text,
    metadata: payload.metadata ?? {},
  };
}

export class QdrantVectors {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly client: QdrantClient,
    private readonly collection = "sloughgpt_rag",
  ) {}

  /** Creates the shared collection and its payload indexes on first use (`size`: the vector length). */
  private ensure(size: number): Promise<void> {
    this.ready ??= (async () => {
      const { exists } = await this.client.collectionExists(this.collection);
      if (exists) return;
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

  private async exists(): Promise<boolean> {
    if (this.ready) {
      await this.ready;
      return true;
    }
    return (await this.client.collectionExists(this.collection)).exists;
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
    return this.query(opts.topK, () => nearestRequest(col, DENSE_VECTOR, vector, opts));
  }

  /** The `topK` best chunks by BM25 of a query's sparse vector (querySparseVector), among those matching `filter`. */
  async lexical(col: CollectionRow, query: SparseVector, opts: QueryOptions): Promise<SearchHit[]> {
    if (query.indices.length === 0) return [];
    return this.query(opts.topK, () => nearestRequest(col, SPARSE_VECTOR, query, opts));
  }

  /** Both lists, `depth` deep, fused by Qdrant's RRF into the `topK` best, in one request. */
  async hybrid(
    col: CollectionRow,
    query: { dense: number[]; sparse: SparseVector },
    opts: QueryOptions & { depth: number },
  ): Promise<SearchHit[]> {
    if (query.sparse.indices.length === 0) return this.nearest(col, query.dense, opts);
    return this.query(opts.topK, () => hybridRequest(col, query, opts));
  }

  private async query(topK: number, request: () => object): Promise<SearchHit[]> {
    if (topK <= 0 || !(await this.exists())) return [];
    const res = await this.client.query(this.collection, request() as never);
    return res.points.map(toHit);
  }
}
