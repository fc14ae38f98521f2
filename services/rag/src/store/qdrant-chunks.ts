import type { Queryable } from "@sloughgpt/db";
import { POSITIONS_KEY } from "../parse/index.js";
import { type CollectionFrequencies, chunkSparseVector, type SparseVector } from "../text/sparse.js";
import type { QdrantCatalog, VectorChunk } from "./qdrant.js";
import type { CollectionRow, DocumentWrite } from "./store.js";

/**
 * What Qdrant keeps of written documents: each chunk that has an embedding, with its sparse vector
 * (chunkSparseVectors) and its document's metadata without the chunks' positions (runs of page and
 * heading that can be thousands long: every point would carry them all; searches read positions
 * from Postgres). Chunks without one (a collection with no embedding model) stay in Postgres.
 */
export async function vectorChunks(
  tx: Queryable,
  col: CollectionRow,
  docs: DocumentWrite[],
): Promise<VectorChunk[]> {
  const sparse = await chunkSparseVectors(
    tx,
    col,
    docs.map((d) => d.id),
  );
  const empty: SparseVector = { indices: [], values: [] };
  return docs.flatMap((d) => {
    const { [POSITIONS_KEY]: _, ...metadata } = d.metadata;
    return d.chunks.flatMap((c, i) => {
      const vector = d.embeddings?.[i];
      if (!vector) return [];
      const terms = sparse.get(`${d.id}#${c.index}`) ?? empty;
      return [{ documentId: d.id, index: c.index, text: c.text, vector, sparse: terms, metadata }];
    });
  });
}

/** What searches of Qdrant collections read from Postgres: the IDF's statistics, documents' metadata. */
export function postgresCatalog(db: Queryable): QdrantCatalog {
  return {
    frequencies: (col, terms) => frequencies(db, col, terms),
    metadata: async (col, documentIds) => {
      const { rows } = await db.query<{ id: string; metadata: Record<string, unknown> }>(
        "SELECT id, metadata FROM rag.documents WHERE team = $1 AND collection = $2 AND id = ANY($3::text[])",
        [col.team, col.name, documentIds],
      );
      return new Map(rows.map((r) => [r.id, r.metadata]));
    },
  };
}

/** The collection's chunk count and the document frequencies of `terms`, as Postgres BM25 reads them. */
async function frequencies(
  db: Queryable,
  col: CollectionRow,
  terms: string[],
): Promise<CollectionFrequencies> {
  const [{ rows: stats }, { rows }] = await Promise.all([
    db.query<{ chunks: number }>("SELECT chunk_count::float8 AS chunks FROM rag.collections WHERE id = $1", [
      col.id,
    ]),
    db.query<{ term: string; df: number }>(
      "SELECT term, df::float8 AS df FROM rag.terms WHERE collection_id = $1 AND term = ANY($2::text[])",
      [col.id, terms],
    ),
  ]);
  return {
    chunks: Number(stats[0]?.chunks ?? 0),
    df: new Map(rows.map((r) => [r.term, Number(r.df)])),
  };
}

/**
 * The sparse (BM25) vectors of the documents' chunks as stored in this transaction: each chunk's
 * lexemes and counts read back from its tsvector (what `rag.analyze` made of it, the same lexemes as
 * its postings), normalized by the collection's mean chunk length including the new chunks. Keyed
 * by chunk id (`documentId#index`).
 */
async function chunkSparseVectors(
  tx: Queryable,
  col: CollectionRow,
  documentIds: string[],
): Promise<Map<string, SparseVector>> {
  const { rows } = await tx.query<{ document_id: string; idx: number; term: string; tf: number }>(
    `SELECT c.document_id, c.idx, u.lexeme AS term, cardinality(u.positions)::int AS tf
       FROM rag.chunks c CROSS JOIN LATERAL unnest(c.tsv) u
      WHERE c.team = $1 AND c.collection = $2 AND c.document_id = ANY($3::text[])`,
    [col.team, col.name, documentIds],
  );
  const { rows: stats } = await tx.query<{ avgdl: number }>(
    "SELECT token_count::float8 / greatest(chunk_count, 1) AS avgdl FROM rag.collections WHERE id = $1",
    [col.id],
  );
  const counts = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const id = `${r.document_id}#${r.idx}`;
    const chunk = counts.get(id) ?? new Map<string, number>();
    chunk.set(r.term, Number(r.tf));
    counts.set(id, chunk);
  }
  const avgdl = Number(stats[0]?.avgdl ?? 0);
  return new Map([...counts].map(([id, c]) => [id, chunkSparseVector(c, avgdl)]));
}
