import { createHash } from "node:crypto";
import type { QdrantClient } from "@qdrant/js-client-rest";
import type { FilterNode } from "../retrieval/filter.js";
import type { CollectionRow, SearchHit } from "./store.js";

/**
 * Chunk vectors in Qdrant: one Qdrant collection shared by every rag collection, its points tagged
 * with a payload-indexed tenant field (`<team>/<collection>`, Qdrant's `is_tenant` keyword index) so
 * each search reads one tenant's points only. The named dense vector `dense` is cosine; the payload
 * keeps the chunk's text and its document's metadata (under `metadata`), so a search needs no second
 * read. Lexical retrieval stays in Postgres; fusion is rag's weighted RRF.
 */
export interface VectorChunk {
  documentId: string;
  index: number;
  text: string;
  vector: number[];
  metadata: Record<string, unknown>;
}

export const DENSE_VECTOR = "dense";

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
      await this.client.createCollection(this.collection, {
        vectors: { [DENSE_VECTOR]: { size, distance: "Cosine" } },
      });
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

  /**
   * Replaces every vector of the given documents with `chunks` (which may be none: a removal). The
   * new points are written first (a chunk's point id is stable, so they overwrite), then the
   * documents' other points are deleted: a failure half-way leaves old or new vectors, never none.
   */
  async replace(col: CollectionRow, documentIds: string[], chunks: VectorChunk[]): Promise<void> {
    const first = chunks[0];
    if (first) await this.ensure(first.vector.length);
    else if (!(await this.client.collectionExists(this.collection)).exists) return;
    const ids = chunks.map((c) => pointId(col, c.documentId, c.index));
    if (chunks.length > 0)
      await this.client.upsert(this.collection, {
        wait: true,
        points: chunks.map((c, i) => ({
          id: ids[i] as string,
          vector: { [DENSE_VECTOR]: c.vector },
          payload: {
            tenant: tenantOf(col),
            document_id: c.documentId,
            idx: c.index,
            text: c.text,
            metadata: c.metadata,
          },
        })),
      });
    if (documentIds.length > 0) await this.removeDocuments(col, documentIds, ids);
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
  async nearest(
    col: CollectionRow,
    vector: number[],
    opts: { topK: number; filter?: FilterNode | undefined },
  ): Promise<SearchHit[]> {
    if (opts.topK <= 0 || !(await this.client.collectionExists(this.collection)).exists) return [];
    const must: Condition[] = [{ key: "tenant", match: { value: tenantOf(col) } }];
    if (opts.filter) must.push(qdrantFilter(opts.filter));
    const res = await this.client.query(this.collection, {
      query: vector,
      using: DENSE_VECTOR,
      filter: { must } as never,
      limit: opts.topK,
      with_payload: true,
    });
    return res.points.map((p) => {
      const payload = (p.payload ?? {}) as {
        document_id: string;
        idx: number;
        text: string;
        metadata: Record<string, unknown>;
      };
      return {
        documentId: payload.document_id,
        chunkId: `${payload.document_id}#${payload.idx}`,
        index: payload.idx,
        score: p.score,
        text: payload.text,
        metadata: payload.metadata ?? {},
      };
    });
  }
}
