import type { Migration } from "@sloughgpt/db";
import { ANALYZER_SQL } from "../text/analyzer.js";

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
  {
    // BM25: an inverted index (postings) with per-collection statistics (chunk count, total
    // length, document frequency per term), all maintained in the transactions that write chunks.
    // chunks.tsv becomes the forward index, written through rag.analyze; existing chunks are
    // re-analyzed and indexed here.
    id: "0002_bm25",
    sql: `
      ${ANALYZER_SQL}
      ALTER TABLE rag.collections
        ADD COLUMN id integer GENERATED ALWAYS AS IDENTITY,
        ADD COLUMN chunk_count bigint NOT NULL DEFAULT 0,
        ADD COLUMN token_count bigint NOT NULL DEFAULT 0,
        ADD CONSTRAINT collections_id_key UNIQUE (id);
      ALTER TABLE rag.chunks
        DROP COLUMN tsv,
        ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY,
        ADD COLUMN tsv tsvector,
        ADD CONSTRAINT chunks_id_key UNIQUE (id);
      UPDATE rag.chunks SET tsv = rag.analyze(text);
      ALTER TABLE rag.chunks ALTER COLUMN tsv SET NOT NULL;
      CREATE TABLE rag.terms (
        collection_id integer NOT NULL REFERENCES rag.collections (id) ON DELETE CASCADE,
        term text NOT NULL,
        df integer NOT NULL CHECK (df > 0),
        PRIMARY KEY (collection_id, term)
      );
      CREATE TABLE rag.postings (
        collection_id integer NOT NULL REFERENCES rag.collections (id) ON DELETE CASCADE,
        term text NOT NULL,
        chunk_id bigint NOT NULL,
        tf integer NOT NULL,
        dl integer NOT NULL,
        PRIMARY KEY (collection_id, term, chunk_id) INCLUDE (tf, dl)
      );
      INSERT INTO rag.postings (collection_id, term, chunk_id, tf, dl)
        SELECT col.id, u.lexeme, c.id, cardinality(u.positions),
               sum(cardinality(u.positions)) OVER (PARTITION BY c.id)
          FROM rag.chunks c
          JOIN rag.collections col ON col.team = c.team AND col.name = c.collection,
               unnest(c.tsv) u;
      INSERT INTO rag.terms (collection_id, term, df)
        SELECT collection_id, term, count(*) FROM rag.postings GROUP BY collection_id, term;
      UPDATE rag.collections col
         SET chunk_count = s.chunks, token_count = s.tokens
        FROM (SELECT c.team, c.collection, count(DISTINCT c.id) AS chunks,
                     coalesce(sum(cardinality(u.positions)), 0) AS tokens
                FROM rag.chunks c LEFT JOIN LATERAL unnest(c.tsv) u ON true
               GROUP BY c.team, c.collection) s
       WHERE col.team = s.team AND col.name = s.collection;
      CREATE INDEX documents_metadata ON rag.documents USING gin (metadata jsonb_path_ops);`,
  },
  {
    // Dense retrieval: each chunk's embedding (L2-normalized, from the collection's model) next to
    // its text, so a changed document's vectors are replaced in the same statement as its chunks.
    // The calibrated weight of the dense list in the default (hybrid) mode, and the chunk count it
    // was measured at, live on the collection.
    id: "0003_dense",
    sql: `
      ALTER TABLE rag.collections
        ADD COLUMN embedding_model text NOT NULL DEFAULT '',
        ADD COLUMN dense_weight float8,
        ADD COLUMN calibrated_chunks bigint NOT NULL DEFAULT 0;
      ALTER TABLE rag.chunks ADD COLUMN embedding real[];`,
  },
  {
    // Asynchronous ingestion jobs. A job's documents travel one message each through JetStream;
    // each processed message leaves one row here (keyed by its position in the job), written after
    // the document's chunks commit, so progress counts every document once however often the
    // message is redelivered.
    id: "0004_ingest_jobs",
    sql: `
      CREATE TABLE rag.jobs (
        id text PRIMARY KEY,
        team text NOT NULL,
        collection text NOT NULL,
        total integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE rag.job_documents (
        job_id text NOT NULL REFERENCES rag.jobs (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        document_id text NOT NULL,
        failed boolean NOT NULL,
        error text,
        finished_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (job_id, seq)
      );`,
  },
  {
    // Where a collection's vectors live: with its chunks in Postgres, or in Qdrant.
    id: "0005_vector_store",
    sql: `
      ALTER TABLE rag.collections
        ADD COLUMN store text NOT NULL DEFAULT 'postgres' CHECK (store IN ('postgres', 'qdrant'));`,
  },
  {
    // What chunk_size and chunk_overlap count: characters, or the embedding model's tokens.
    id: "0006_chunk_unit",
    sql: `
      ALTER TABLE rag.collections
        ADD COLUMN chunk_unit text NOT NULL DEFAULT 'characters' CHECK (chunk_unit IN ('characters', 'tokens'));`,
  },
];
