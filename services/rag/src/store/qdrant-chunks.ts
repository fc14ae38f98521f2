import type { Queryable } from "@sloughgpt/db";
import { chunkSparseVector, type SparseVector } from "../text/sparse.js";
import type { VectorChunk } from "./qdrant.js";
import type { CollectionRow, DocumentWrite } from "./store.js";

/**
 * What Qdrant keeps of written documents: each chunk that has an embedding, with its sparse vector
 * (chunkSparseVectors). Chunks without one (a collection with no embedding model) stay in Postgres.
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
  return docs.flatMap((d) =>
    d.chunks.flatMap((c, i) => {
      const vector = d.embeddings?.[i];
      if (!vector) return [];
      const terms = sparse.get(`${d.id}#${c.index}`) ?? empty;
      return [
        { documentId: d.id, index: c.index, text: c.text, vector, sparse: terms, metadata: d.metadata },
      ];
    }),
  );
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
