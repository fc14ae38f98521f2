import { createHash } from "node:crypto";
import type { Db, Migration } from "@sloughgpt/db";
import { AlreadyExistsError, NotFoundError } from "@sloughgpt/runtime";
import type { Chunk } from "../chunking/chunker.js";

export const migrations: Migration[] = [
  {
    id: "0001_collections",
    sql: `
      CREATE TABLE rag.collections (
        team text NOT NULL,
        name text NOT NULL,
        chunk_size integer NOT NULL,
        chunk_overlap integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (team, name)
      );
      CREATE TABLE rag.documents (
        team text NOT NULL,
        collection text NOT NULL,
        id text NOT NULL,
        content_hash text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (team, collection, id),
        FOREIGN KEY (team, collection) REFERENCES rag.collections (team, name) ON DELETE CASCADE
      );
      CREATE TABLE rag.chunks (
        team text NOT NULL,
        collection text NOT NULL,
        document_id text NOT NULL,
        idx integer NOT NULL,
        text text NOT NULL,
        start_offset integer NOT NULL,
        end_offset integer NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
        PRIMARY KEY (team, collection, document_id, idx),
        FOREIGN KEY (team, collection, document_id) REFERENCES rag.documents (team, collection, id) ON DELETE CASCADE
      );
      CREATE INDEX chunks_tsv ON rag.chunks USING gin (tsv);`,
  },
];

export interface CollectionRow {
  team: string;
  name: string;
  chunkSize: number;
  chunkOverlap: number;
  createdAt: Date;
}

export interface SearchHit {
  documentId: string;
  chunkId: string;
  score: number;
  text: string;
  metadata: Record<string, unknown>;
}

export function contentHash(text: string, metadata: unknown): string {
  return createHash("sha256").update(text).update("\0").update(JSON.stringify(metadata)).digest("hex");
}

export class RagStore {
  constructor(private readonly db: Db) {}

  async createCollection(c: Omit<CollectionRow, "createdAt">): Promise<CollectionRow> {
    const { rows } = await this.db.query<{ created_at: Date }>(
      `INSERT INTO rag.collections (team, name, chunk_size, chunk_overlap) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING created_at`,
      [c.team, c.name, c.chunkSize, c.chunkOverlap],
    );
    const row = rows[0];
    if (!row) throw new AlreadyExistsError(`collection '${c.name}' already exists`, { param: "name" });
    return { ...c, createdAt: new Date(row.created_at) };
  }

  async getCollection(team: string, name: string): Promise<CollectionRow> {
    const { rows } = await this.db.query<{ chunk_size: number; chunk_overlap: number; created_at: Date }>(
      "SELECT chunk_size, chunk_overlap, created_at FROM rag.collections WHERE team = $1 AND name = $2",
      [team, name],
    );
    const r = rows[0];
    if (!r)
      throw new NotFoundError(`collection '${name}' not found`, {
        param: "collection",
        reason: "collection_not_found",
      });
    return {
      team,
      name,
      chunkSize: r.chunk_size,
      chunkOverlap: r.chunk_overlap,
      createdAt: new Date(r.created_at),
    };
  }

  /**
   * Replaces a document and its chunks atomically. Returns false (and writes nothing)
   * when the stored document already has the same content hash.
   */
  async upsertDocument(
    col: CollectionRow,
    doc: { id: string; metadata: Record<string, unknown>; hash: string },
    chunks: Chunk[],
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const { rows } = await tx.query(
        `INSERT INTO rag.documents (team, collection, id, content_hash, metadata) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (team, collection, id) DO UPDATE
           SET content_hash = EXCLUDED.content_hash, metadata = EXCLUDED.metadata, updated_at = now()
           WHERE rag.documents.content_hash <> EXCLUDED.content_hash
         RETURNING id`,
        [col.team, col.name, doc.id, doc.hash, JSON.stringify(doc.metadata)],
      );
      if (rows.length === 0) return false;
      await tx.query("DELETE FROM rag.chunks WHERE team = $1 AND collection = $2 AND document_id = $3", [
        col.team,
        col.name,
        doc.id,
      ]);
      for (const c of chunks) {
        await tx.query(
          `INSERT INTO rag.chunks (team, collection, document_id, idx, text, start_offset, end_offset)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [col.team, col.name, doc.id, c.index, c.text, c.start, c.end],
        );
      }
      return true;
    });
  }

  /** Postgres full-text search (English stemming and stop words), ranked by ts_rank_cd. */
  async search(col: CollectionRow, query: string, topK: number): Promise<SearchHit[]> {
    const { rows } = await this.db.query<{
      document_id: string;
      idx: number;
      score: number;
      text: string;
      metadata: Record<string, unknown> | string;
    }>(
      `SELECT c.document_id, c.idx, ts_rank_cd(c.tsv, q, 32)::float8 AS score, c.text, d.metadata
         FROM rag.chunks c
         JOIN rag.documents d ON d.team = c.team AND d.collection = c.collection AND d.id = c.document_id,
              websearch_to_tsquery('english', $3) q
        WHERE c.team = $1 AND c.collection = $2 AND c.tsv @@ q
        ORDER BY score DESC, c.document_id, c.idx
        LIMIT $4`,
      [col.team, col.name, query, topK],
    );
    return rows.map((r) => ({
      documentId: r.document_id,
      chunkId: `${r.document_id}#${r.idx}`,
      score: Number(r.score),
      text: r.text,
      metadata: typeof r.metadata === "string" ? JSON.parse(r.metadata) : r.metadata,
    }));
  }
}
