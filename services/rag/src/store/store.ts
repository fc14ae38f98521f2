import { createHash } from "node:crypto";
import type { Db, Queryable } from "@sloughgpt/db";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "@sloughgpt/runtime";
import type { Chunk } from "../chunking/chunker.js";
import { BM25_DEFAULTS, type Bm25Params } from "../retrieval/bm25.js";
import type { FilterNode } from "../retrieval/filter.js";
import type { ProximityInput, TermStats } from "../retrieval/proximity.js";
import type { CollectionFrequencies } from "../retrieval/rm3.js";
import type { WeightedTerm } from "../text/analyzer.js";
import { compileFilter } from "./filter-sql.js";
import type { QdrantVectors } from "./qdrant.js";
import { postgresCatalog, vectorChunks } from "./qdrant-chunks.js";

export { migrations } from "./migrations.js";

export interface CollectionRow {
  /** Internal key of the collection's index rows; (team, name) is the public one. */
  id: number;
  team: string;
  name: string;
  chunkSize: number;
  chunkOverlap: number;
  /** What chunkSize and chunkOverlap count. */
  chunkUnit: ChunkUnitKind;
  /** Where the collection's vectors live. */
  store: VectorStoreKind;
  /** Serving's model for chunk and query embeddings; empty: the collection is lexical only. */
  embeddingModel: string;
  /** The dense list's weight in the default mode, once calibrated (see retrieval/calibrate.ts). */
  denseWeight: number | null;
  /** Chunk count when the weight was measured. */
  calibratedChunks: number;
  createdAt: Date;
}

export interface SearchHit {
  documentId: string;
  chunkId: string;
  /** The chunk's position in its document. */
  index: number;
  score: number;
  text: string;
  metadata: Record<string, unknown>;
}

export interface DocumentWrite {
  id: string;
  metadata: Record<string, unknown>;
  /** `contentHash(text, metadata)`: a document whose stored hash is the same is skipped. */
  hash: string;
  chunks: Chunk[];
  /** One L2-normalized vector per chunk, in order, when the collection has an embedding model. */
  embeddings?: number[][] | undefined;
}

export interface WriteResult {
  /** Documents written (upsert: changed or new) or removed (delete). */
  documents: number;
  chunks: number;
}

export type VectorStoreKind = "postgres" | "qdrant";

/** Characters, or tokens of the collection's embedding model. */
export type ChunkUnitKind = "characters" | "tokens";

export interface NewCollection {
  team: string;
  name: string;
  chunkSize: number;
  chunkOverlap: number;
  chunkUnit?: ChunkUnitKind | undefined;
  embeddingModel?: string | undefined;
  store?: VectorStoreKind | undefined;
}

export type DocumentSelector = { ids: string[] } | { filter: FilterNode };

export interface CollectionStats {
  chunks: number;
  /** Tokens over all chunks after stop words: N · avgdl. */
  tokens: number;
  /** Distinct lexemes. */
  terms: number;
}

export function contentHash(text: string, metadata: unknown): string {
  return createHash("sha256").update(text).update("\0").update(JSON.stringify(metadata)).digest("hex");
}

const chunkId = (documentId: string, index: number) => `${documentId}#${index}`;

type HitRow = {
  document_id: string;
  idx: number;
  score: number;
  text: string;
  metadata: Record<string, unknown> | string;
};

const toHit = (r: HitRow): SearchHit => ({
  documentId: r.document_id,
  chunkId: chunkId(r.document_id, r.idx),
  index: r.idx,
  score: Number(r.score),
  text: r.text,
  metadata: typeof r.metadata === "string" ? JSON.parse(r.metadata) : r.metadata,
});

/**
 * Removes the chunks of some documents with their postings, and takes them out of the collection's
 * statistics, in one statement. The lexemes to remove are read from each chunk's stored tsvector, so
 * the index stays exact even if the analyzer would now analyze the text differently.
 */
const REMOVE_CHUNKS = `
  WITH old AS (
    SELECT c.id, c.tsv FROM rag.chunks c
     WHERE c.team = $1 AND c.collection = $2 AND c.document_id = ANY($3::text[])),
  lex AS (SELECT old.id, u.lexeme, cardinality(u.positions) AS tf FROM old, unnest(old.tsv) u),
  gone AS (SELECT lexeme, count(*)::int AS n FROM lex GROUP BY lexeme),
  del_postings AS (
    DELETE FROM rag.postings p USING lex
     WHERE p.collection_id = $4 AND p.term = lex.lexeme AND p.chunk_id = lex.id),
  del_terms AS (
    DELETE FROM rag.terms t USING gone
     WHERE t.collection_id = $4 AND t.term = gone.lexeme AND t.df <= gone.n),
  upd_terms AS (
    UPDATE rag.terms t SET df = t.df - gone.n FROM gone
     WHERE t.collection_id = $4 AND t.term = gone.lexeme AND t.df > gone.n),
  del_chunks AS (DELETE FROM rag.chunks c USING old WHERE c.id = old.id)
  UPDATE rag.collections
     SET chunk_count = chunk_count - (SELECT count(*) FROM old),
         token_count = token_count - (SELECT coalesce(sum(tf), 0) FROM lex)
   WHERE id = $4
  RETURNING (SELECT count(*) FROM old)::int AS chunks`;

/** Inserts chunks, analyzed by rag.analyze, with their postings and statistics, in one statement. */
const INSERT_CHUNKS = `
  WITH ins AS (
    INSERT INTO rag.chunks (team, collection, document_id, idx, text, start_offset, end_offset, tsv, embedding)
    SELECT $1, $2, x.document_id, x.idx, x.text, x.start_offset, x.end_offset, rag.analyze(x.text),
           x.embedding::real[]
      FROM unnest($3::text[], $4::int[], $5::text[], $6::int[], $7::int[], $9::text[])
           AS x(document_id, idx, text, start_offset, end_offset, embedding)
    RETURNING id, tsv),
  lex AS (SELECT ins.id, u.lexeme, cardinality(u.positions) AS tf FROM ins, unnest(ins.tsv) u),
  lengths AS (SELECT id, sum(tf)::int AS dl FROM lex GROUP BY id),
  postings AS (
    INSERT INTO rag.postings (collection_id, term, chunk_id, tf, dl)
    SELECT $8, lex.lexeme, lex.id, lex.tf, lengths.dl FROM lex JOIN lengths USING (id)),
  terms AS (
    INSERT INTO rag.terms (collection_id, term, df)
    SELECT $8, lexeme, count(*) FROM lex GROUP BY lexeme
    ON CONFLICT (collection_id, term) DO UPDATE SET df = rag.terms.df + EXCLUDED.df)
  UPDATE rag.collections
     SET chunk_count = chunk_count + (SELECT count(*) FROM ins),
         token_count = token_count + (SELECT coalesce(sum(tf), 0) FROM lex)
   WHERE id = $8`;

/**
 * BM25 (see retrieval/bm25.ts) over the postings of the query's terms only. Every step is driven
 * from the small side through LATERAL lookups on primary keys ((collection, term) for terms and
 * postings, the chunk id, the document key), so the plan is index-driven whatever the planner's
 * statistics say (PGlite never collects any on its own). A filter restricts the candidate chunks
 * before ranking, so the top k that match it come back whenever k exist.
 */
function bm25Sql(filter: string | undefined): string {
  const restrict = filter
    ? `WHERE p.chunk_id IN (
         SELECT c.id FROM rag.chunks c
           JOIN rag.documents d ON d.team = c.team AND d.collection = c.collection AND d.id = c.document_id
          WHERE c.team = $7 AND c.collection = $8 AND (${filter}))`
    : "";
  return `
    WITH col AS (
      SELECT chunk_count::float8 AS n, token_count::float8 / greatest(chunk_count, 1) AS avgdl
        FROM rag.collections WHERE id = $1),
    q AS (
      SELECT q.term, q.weight * ln(1 + (col.n - t.df + 0.5) / (t.df + 0.5)) AS w, col.avgdl
        FROM unnest($2::text[], $3::float8[]) AS q(term, weight)
        CROSS JOIN col
        CROSS JOIN LATERAL (SELECT df FROM rag.terms t WHERE t.collection_id = $1 AND t.term = q.term) t),
    top AS (
      SELECT p.chunk_id,
             sum(q.w * p.tf * ($4::float8 + 1)
                 / (p.tf + $4::float8 * (1 - $5::float8 + $5::float8 * p.dl / q.avgdl))) AS score
        FROM q
        CROSS JOIN LATERAL (
          SELECT chunk_id, tf, dl FROM rag.postings p WHERE p.collection_id = $1 AND p.term = q.term) p
        ${restrict}
       GROUP BY p.chunk_id
       ORDER BY score DESC, p.chunk_id
       LIMIT $6::int)
    SELECT c.document_id, c.idx, top.score::float8 AS score, c.text, d.metadata
      FROM top
      CROSS JOIN LATERAL (
        SELECT team, collection, document_id, idx, text FROM rag.chunks c WHERE c.id = top.chunk_id) c
      CROSS JOIN LATERAL (
        SELECT metadata FROM rag.documents d
         WHERE d.team = c.team AND d.collection = c.collection AND d.id = c.document_id) d
     ORDER BY top.score DESC, c.document_id, c.idx`;
}

/**
 * Chunks written between two VACUUMs of the index tables. BM25 reads postings by index-only scans,
 * which must visit the heap for every page VACUUM has not yet marked all-visible: right after a bulk
 * load that made searches about nine times slower at 100k chunks. Autovacuum gets there eventually
 * (PGlite has none), so the store vacuums itself after large writes.
 */
export const VACUUM_AFTER_CHUNKS = 10_000;

export class RagStore {
  private writtenSinceVacuum = 0;
  private vacuuming: Promise<void> | undefined;

  /** `qdrant`: where collections with store `qdrant` keep their vectors; unset, such collections are refused. */
  constructor(
    private readonly db: Db,
    private readonly qdrant?: QdrantVectors | undefined,
    private readonly vacuumAfterChunks = VACUUM_AFTER_CHUNKS,
  ) {
    // Qdrant searches take the query's IDF and the hits' metadata from this database.
    qdrant?.attach(postgresCatalog(db));
  }

  /** Resolves when no background VACUUM is running (shutdown). */
  async idle(): Promise<void> {
    await this.vacuuming;
  }

  private noteWritten(chunks: number): void {
    this.writtenSinceVacuum += chunks;
    if (this.vacuuming || this.writtenSinceVacuum < this.vacuumAfterChunks) return;
    this.writtenSinceVacuum = 0;
    this.vacuuming = this.db
      .exec("VACUUM (ANALYZE) rag.postings, rag.terms, rag.chunks")
      // A failed VACUUM costs only speed; the next large write tries again.
      .catch(() => undefined)
      .finally(() => {
        this.vacuuming = undefined;
      });
  }

  /** Collections with store `qdrant` write and read vectors there, inside the same transaction's life. */
  private vectorsIn(col: CollectionRow): QdrantVectors | undefined {
    if (col.store !== "qdrant") return undefined;
    if (!this.qdrant)
      throw new FailedPreconditionError(
        `collection '${col.name}' keeps its vectors in Qdrant, which is not configured`,
        {
          reason: "qdrant_not_configured",
        },
      );
    return this.qdrant;
  }

  async createCollection(c: NewCollection): Promise<CollectionRow> {
    const { rows } = await this.db.query<{ id: number; created_at: Date }>(
      `INSERT INTO rag.collections (team, name, chunk_size, chunk_overlap, chunk_unit, embedding_model, store)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT DO NOTHING RETURNING id, created_at`,
      [
        c.team,
        c.name,
        c.chunkSize,
        c.chunkOverlap,
        c.chunkUnit ?? "characters",
        c.embeddingModel ?? "",
        c.store ?? "postgres",
      ],
    );
    const row = rows[0];
    if (!row) throw new AlreadyExistsError(`collection '${c.name}' already exists`, { param: "name" });
    return {
      ...c,
      chunkUnit: c.chunkUnit ?? "characters",
      embeddingModel: c.embeddingModel ?? "",
      store: c.store ?? "postgres",
      denseWeight: null,
      calibratedChunks: 0,
      id: row.id,
      createdAt: new Date(row.created_at),
    };
  }

  async getCollection(team: string, name: string): Promise<CollectionRow> {
    const { rows } = await this.db.query<{
      id: number;
      chunk_size: number;
      chunk_overlap: number;
      chunk_unit: ChunkUnitKind;
      embedding_model: string;
      store: VectorStoreKind;
      dense_weight: number | null;
      calibrated_chunks: number;
      created_at: Date;
    }>(
      `SELECT id, chunk_size, chunk_overlap, chunk_unit, embedding_model, store, dense_weight, calibrated_chunks::float8, created_at
         FROM rag.collections WHERE team = $1 AND name = $2`,
      [team, name],
    );
    const r = rows[0];
    if (!r)
      throw new NotFoundError(`collection '${name}' not found`, {
        param: "collection",
        reason: "collection_not_found",
      });
    return {
      id: r.id,
      team,
      name,
      chunkSize: r.chunk_size,
      chunkOverlap: r.chunk_overlap,
      chunkUnit: r.chunk_unit,
      embeddingModel: r.embedding_model,
      store: r.store,
      denseWeight: r.dense_weight === null ? null : Number(r.dense_weight),
      calibratedChunks: Number(r.calibrated_chunks),
      createdAt: new Date(r.created_at),
    };
  }

  /**
   * Writes documents and replaces their chunks, all in one transaction: a search sees every
   * document of the batch old or every one new, never a document without its chunks. Documents
   * whose stored content hash is unchanged are skipped. Writes to one collection are serialized
   * (they update its statistics row), which also keeps term updates free of deadlocks.
   */
  async upsertDocuments(col: CollectionRow, docs: DocumentWrite[]): Promise<WriteResult> {
    const ids = docs.map((d) => d.id);
    if (new Set(ids).size !== ids.length)
      throw new InvalidArgumentError("document ids must be unique within a request", { param: "documents" });
    if (docs.length === 0) return { documents: 0, chunks: 0 };
    const external = this.vectorsIn(col);
    const result = await this.db.transaction(async (tx) => {
      await lockCollection(tx, col);
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO rag.documents (team, collection, id, content_hash, metadata)
         SELECT $1, $2, d.id, d.hash, d.metadata::jsonb
           FROM unnest($3::text[], $4::text[], $5::text[]) AS d(id, hash, metadata)
         ON CONFLICT (team, collection, id) DO UPDATE
           SET content_hash = EXCLUDED.content_hash, metadata = EXCLUDED.metadata, updated_at = now()
           WHERE rag.documents.content_hash <> EXCLUDED.content_hash
         RETURNING id`,
        [col.team, col.name, ids, docs.map((d) => d.hash), docs.map((d) => JSON.stringify(d.metadata))],
      );
      const changed = new Set(rows.map((r) => r.id));
      if (changed.size === 0) return { documents: 0, chunks: 0 };
      await removeChunks(tx, col, [...changed]);
      const chunks = docs
        .filter((d) => changed.has(d.id))
        .flatMap((d) => d.chunks.map((c, i) => ({ documentId: d.id, ...c, embedding: d.embeddings?.[i] })));
      await tx.query(INSERT_CHUNKS, [
        col.team,
        col.name,
        chunks.map((c) => c.documentId),
        chunks.map((c) => c.index),
        chunks.map((c) => c.text),
        chunks.map((c) => c.start),
        chunks.map((c) => c.end),
        col.id,
        chunks.map((c) => (c.embedding && !external ? `{${c.embedding.join(",")}}` : null)),
      ]);
      // Before the commit: if Qdrant refuses, nothing is committed; if the commit then fails, the
      // document's hash is still the old one, so a retry writes (and overwrites) its vectors again.
      const written = docs.filter((d) => changed.has(d.id));
      if (external) await external.replace(col, [...changed], await vectorChunks(tx, col, written));
      return { documents: changed.size, chunks: chunks.length };
    });
    this.noteWritten(result.chunks);
    return result;
  }

  /** Deletes documents (by id, or every one whose metadata matches a filter) with their chunks. */
  async deleteDocuments(col: CollectionRow, selector: DocumentSelector): Promise<WriteResult> {
    return this.db.transaction(async (tx) => {
      await lockCollection(tx, col);
      const ids = "ids" in selector ? selector.ids : await matchingDocuments(tx, col, selector.filter);
      if (ids.length === 0) return { documents: 0, chunks: 0 };
      const chunks = await removeChunks(tx, col, ids);
      await this.vectorsIn(col)?.removeDocuments(col, ids);
      const { rows } = await tx.query(
        "DELETE FROM rag.documents WHERE team = $1 AND collection = $2 AND id = ANY($3::text[]) RETURNING id",
        [col.team, col.name, ids],
      );
      return { documents: rows.length, chunks };
    });
  }

  /** The query's lexemes through the same analyzer as the chunks, weighted by their count. */
  async analyze(query: string): Promise<WeightedTerm[]> {
    const { rows } = await this.db.query<{ term: string; weight: number }>(
      "SELECT lexeme AS term, cardinality(positions)::float8 AS weight FROM unnest(rag.analyze($1)) ORDER BY lexeme",
      [query],
    );
    return rows.map((r) => ({ term: r.term, weight: Number(r.weight) }));
  }

  /**
   * The best `topK` chunks by BM25 for weighted terms, among those whose document matches `filter`.
   * A collection whose vectors are in Qdrant is ranked there, by its sparse vectors (whose k1 and b
   * were fixed when they were written; `params` does not apply).
   */
  async bm25(
    col: CollectionRow,
    terms: WeightedTerm[],
    opts: { topK: number; filter?: FilterNode | undefined; params?: Bm25Params },
  ): Promise<SearchHit[]> {
    const positive = terms.filter((t) => t.weight > 0);
    if (positive.length === 0 || opts.topK <= 0) return [];
    const external = col.embeddingModel ? this.vectorsIn(col) : undefined;
    if (external) return external.lexical(col, positive, opts);
    const { k1, b } = opts.params ?? BM25_DEFAULTS;
    const params: unknown[] = [
      col.id,
      positive.map((t) => t.term),
      positive.map((t) => t.weight),
      k1,
      b,
      opts.topK,
    ];
    // $7 and $8 name the collection for the filter's subquery; unused placeholders are not allowed.
    if (opts.filter) params.push(col.team, col.name);
    const filter = opts.filter ? compileFilter(opts.filter, "d.metadata", params) : undefined;
    const { rows } = await this.db.query<HitRow>(bm25Sql(filter), params);
    return rows.map(toHit);
  }

  /**
   * Each chunk's lexemes with their counts (the forward index), and the collection frequencies of
   * those lexemes: what query expansion reads from feedback chunks.
   */
  async termVectors(
    col: CollectionRow,
    chunks: Pick<SearchHit, "documentId" | "index" | "chunkId">[],
  ): Promise<{ vectors: Map<string, Map<string, number>>; freq: CollectionFrequencies }> {
    const { rows } = await this.db.query<{
      document_id: string;
      idx: number;
      term: string;
      tf: number;
      df: number;
    }>(
      `SELECT k.document_id, k.idx, u.lexeme AS term, cardinality(u.positions) AS tf,
              (SELECT df FROM rag.terms t WHERE t.collection_id = $5 AND t.term = u.lexeme) AS df
         FROM unnest($3::text[], $4::int[]) AS k(document_id, idx)
         CROSS JOIN LATERAL (
           SELECT tsv FROM rag.chunks c
            WHERE c.team = $1 AND c.collection = $2 AND c.document_id = k.document_id AND c.idx = k.idx) c
         CROSS JOIN LATERAL unnest(c.tsv) u`,
      [col.team, col.name, chunks.map((c) => c.documentId), chunks.map((c) => c.index), col.id],
    );
    const vectors = new Map<string, Map<string, number>>(chunks.map((c) => [c.chunkId, new Map()]));
    const df = new Map<string, number>();
    for (const r of rows) {
      vectors.get(chunkId(r.document_id, r.idx))?.set(r.term, Number(r.tf));
      df.set(r.term, Number(r.df));
    }
    return { vectors, freq: { chunks: (await this.stats(col)).chunks, df } };
  }

  /** Where each of `terms` occurs in each chunk, with the chunk's length, for proximity scoring. */
  async termPositions(
    col: CollectionRow,
    chunks: Pick<SearchHit, "documentId" | "index" | "chunkId">[],
    terms: string[],
  ): Promise<{ chunks: Map<string, ProximityInput>; stats: TermStats }> {
    const { rows } = await this.db.query<{
      document_id: string;
      idx: number;
      dl: number;
      term: string | null;
      positions: number[] | null;
    }>(
      `SELECT k.document_id, k.idx, c.dl, u.lexeme AS term, u.positions::int[] AS positions
         FROM unnest($3::text[], $4::int[]) AS k(document_id, idx)
         CROSS JOIN LATERAL (
           SELECT tsv, (SELECT coalesce(sum(cardinality(x.positions)), 0) FROM unnest(c.tsv) x)::int AS dl
             FROM rag.chunks c
            WHERE c.team = $1 AND c.collection = $2 AND c.document_id = k.document_id AND c.idx = k.idx) c
         LEFT JOIN LATERAL (SELECT lexeme, positions FROM unnest(c.tsv) WHERE lexeme = ANY($5::text[])) u ON true`,
      [col.team, col.name, chunks.map((c) => c.documentId), chunks.map((c) => c.index), terms],
    );
    const out = new Map<string, { length: number; positions: Map<string, number[]> }>();
    for (const r of rows) {
      const id = chunkId(r.document_id, r.idx);
      const entry = out.get(id) ?? { length: Number(r.dl), positions: new Map<string, number[]>() };
      if (r.term !== null && r.positions) entry.positions.set(r.term, r.positions.map(Number));
      out.set(id, entry);
    }
    return { chunks: out, stats: await this.termStats(col, terms) };
  }

  private async termStats(col: CollectionRow, terms: string[]): Promise<TermStats> {
    const { rows } = await this.db.query<{ term: string; df: number }>(
      `SELECT q.term, t.df FROM unnest($2::text[]) AS q(term)
         CROSS JOIN LATERAL (SELECT df FROM rag.terms t WHERE t.collection_id = $1 AND t.term = q.term) t`,
      [col.id, terms],
    );
    const s = await this.stats(col);
    return {
      chunks: s.chunks,
      avgLength: s.tokens / Math.max(s.chunks, 1),
      df: new Map(rows.map((r) => [r.term, Number(r.df)])),
    };
  }

  /** Stored content hashes of those of `ids` that exist: what lets unchanged documents skip embedding. */
  async contentHashes(col: CollectionRow, ids: string[]): Promise<Map<string, string>> {
    const { rows } = await this.db.query<{ id: string; content_hash: string }>(
      "SELECT id, content_hash FROM rag.documents WHERE team = $1 AND collection = $2 AND id = ANY($3::text[])",
      [col.team, col.name, ids],
    );
    return new Map(rows.map((r) => [r.id, r.content_hash]));
  }

  /**
   * The `topK` chunks nearest (by inner product of unit vectors: cosine) to `vector`, among those
   * whose document matches `filter`. An exact scan: the filter is part of the scan, so `topK`
   * matching chunks come back whenever they exist (see ADR 0008 on pgvector).
   */
  async nearest(
    col: CollectionRow,
    vector: number[],
    opts: { topK: number; filter?: FilterNode | undefined },
  ): Promise<SearchHit[]> {
    if (opts.topK <= 0) return [];
    const external = this.vectorsIn(col);
    if (external) return external.nearest(col, vector, opts);
    const params: unknown[] = [col.team, col.name, `{${vector.join(",")}}`, opts.topK];
    const filter = opts.filter ? `AND (${compileFilter(opts.filter, "d.metadata", params)})` : "";
    const { rows } = await this.db.query<HitRow>(
      `SELECT c.document_id, c.idx, s.score::float8 AS score, c.text, d.metadata
         FROM rag.chunks c
         JOIN rag.documents d ON d.team = c.team AND d.collection = c.collection AND d.id = c.document_id
         CROSS JOIN LATERAL (
           SELECT sum(x.a * x.b) AS score FROM unnest(c.embedding, $3::real[]) AS x(a, b)) s
        WHERE c.team = $1 AND c.collection = $2 AND c.embedding IS NOT NULL ${filter}
        ORDER BY s.score DESC, c.document_id, c.idx
        LIMIT $4::int`,
      params,
    );
    return rows.map(toHit);
  }

  /**
   * Up to `n` chunks spread evenly over the collection (by internal id), for calibration: the
   * same collection state always gives the same sample.
   */
  async sampleChunks(col: CollectionRow, n: number): Promise<SearchHit[]> {
    const { rows } = await this.db.query<HitRow>(
      `WITH numbered AS (
         SELECT c.id, c.document_id, c.idx, c.text, row_number() OVER (ORDER BY c.id) AS rn,
                count(*) OVER () AS total
           FROM rag.chunks c WHERE c.team = $1 AND c.collection = $2)
       SELECT n.document_id, n.idx, 0::float8 AS score, n.text, '{}'::jsonb AS metadata
         FROM numbered n
        WHERE (n.rn - 1) % greatest(1, n.total / $3::int) = 0
        ORDER BY n.id
        LIMIT $3::int`,
      [col.team, col.name, n],
    );
    return rows.map(toHit);
  }

  async setDenseWeight(col: CollectionRow, weight: number, chunks: number): Promise<void> {
    await this.db.query(
      "UPDATE rag.collections SET dense_weight = $2, calibrated_chunks = $3 WHERE id = $1",
      [col.id, weight, chunks],
    );
  }

  async stats(col: CollectionRow): Promise<CollectionStats> {
    const { rows } = await this.db.query<{ chunks: number; tokens: number; terms: number }>(
      `SELECT chunk_count::float8 AS chunks, token_count::float8 AS tokens,
              (SELECT count(*) FROM rag.terms WHERE collection_id = $1)::float8 AS terms
         FROM rag.collections WHERE id = $1`,
      [col.id],
    );
    const r = rows[0];
    return { chunks: Number(r?.chunks ?? 0), tokens: Number(r?.tokens ?? 0), terms: Number(r?.terms ?? 0) };
  }
}

async function lockCollection(tx: Queryable, col: CollectionRow): Promise<void> {
  const { rows } = await tx.query("SELECT 1 FROM rag.collections WHERE id = $1 FOR UPDATE", [col.id]);
  if (rows.length === 0)
    throw new NotFoundError(`collection '${col.name}' not found`, {
      param: "collection",
      reason: "collection_not_found",
    });
}

async function removeChunks(tx: Queryable, col: CollectionRow, documentIds: string[]): Promise<number> {
  const { rows } = await tx.query<{ chunks: number }>(REMOVE_CHUNKS, [
    col.team,
    col.name,
    documentIds,
    col.id,
  ]);
  return rows[0]?.chunks ?? 0;
}

async function matchingDocuments(tx: Queryable, col: CollectionRow, filter: FilterNode): Promise<string[]> {
  const params: unknown[] = [col.team, col.name];
  const where = compileFilter(filter, "metadata", params);
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM rag.documents WHERE team = $1 AND collection = $2 AND (${where})`,
    params,
  );
  return rows.map((r) => r.id);
}
