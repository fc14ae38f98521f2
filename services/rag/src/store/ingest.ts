import { chunkText } from "../chunking/chunker.js";
import { type Embedder, embedAll } from "../embedding/embedder.js";
import {
  type CollectionRow,
  contentHash,
  type DocumentWrite,
  type RagStore,
  type WriteResult,
} from "./store.js";

export interface DocumentInput {
  id: string;
  text: string;
  metadata: Record<string, unknown>;
}

export interface IngestOptions {
  /** Required when the collection has an embedding model. */
  embedder?: Embedder | undefined;
  signal?: AbortSignal | undefined;
}

/** Documents whose stored hash differs from (or is missing for) their content: what needs chunking and embedding. */
export function changedDocuments(
  docs: DocumentInput[],
  stored: ReadonlyMap<string, string>,
): DocumentInput[] {
  return docs.filter((d) => stored.get(d.id) !== contentHash(d.text, d.metadata));
}

/**
 * Chunks documents with the collection's settings, embeds the chunks of new or changed documents
 * only (unchanged ones are skipped before any embedding call), and upserts them in one transaction.
 */
export async function ingestDocuments(
  store: RagStore,
  col: CollectionRow,
  docs: DocumentInput[],
  opts: IngestOptions = {},
): Promise<WriteResult> {
  const changed = changedDocuments(
    docs,
    await store.contentHashes(
      col,
      docs.map((d) => d.id),
    ),
  );
  const writes: DocumentWrite[] = changed.map((d) => ({
    id: d.id,
    metadata: d.metadata,
    hash: contentHash(d.text, d.metadata),
    chunks: chunkText(d.text, col.chunkSize, col.chunkOverlap),
  }));
  if (col.embeddingModel) await attachEmbeddings(col, writes, opts);
  return store.upsertDocuments(col, writes);
}

async function attachEmbeddings(
  col: CollectionRow,
  writes: DocumentWrite[],
  opts: IngestOptions,
): Promise<void> {
  if (!opts.embedder)
    throw new Error(`collection '${col.name}' needs an embedder for '${col.embeddingModel}'`);
  const texts = writes.flatMap((w) => w.chunks.map((c) => c.text));
  const vectors = await embedAll(opts.embedder, col.embeddingModel, texts, {
    signal: opts.signal,
    team: col.team,
  });
  let at = 0;
  for (const w of writes) {
    w.embeddings = vectors.slice(at, at + w.chunks.length);
    at += w.chunks.length;
  }
}
