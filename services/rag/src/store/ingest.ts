import { createHash } from "node:crypto";
import { FailedPreconditionError } from "@sloughgpt/runtime";
import { type ChunkUnit, chunkText } from "../chunking/chunker.js";
import type { Tokenizer } from "../chunking/tokenizer.js";
import { type Embedder, embedAll } from "../embedding/embedder.js";
import { chunkPositions, type DocumentFormat, POSITIONS_KEY, parseDocument } from "../parse/index.js";
import {
  type CollectionRow,
  contentHash,
  type DocumentWrite,
  type RagStore,
  type WriteResult,
} from "./store.js";

export interface DocumentInput {
  id: string;
  /** The text, or the markdown or HTML source; empty for a PDF. */
  text: string;
  metadata: Record<string, unknown>;
  /** Unset: plain text. */
  format?: DocumentFormat | undefined;
  /** A PDF's bytes. */
  content?: Uint8Array | undefined;
}

export interface IngestOptions {
  /** Required when the collection has an embedding model. */
  embedder?: Embedder | undefined;
  /** Required when the collection counts chunks in its embedding model's tokens. */
  tokenizer?: Tokenizer | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Documents whose stored hash differs from (or is missing for) their content, with that hash: what
 * needs chunking and embedding.
 */
export function changedDocuments(
  docs: DocumentInput[],
  stored: ReadonlyMap<string, string>,
): { doc: DocumentInput; hash: string }[] {
  return docs.map((doc) => ({ doc, hash: documentHash(doc) })).filter((d) => stored.get(d.doc.id) !== d.hash);
}

/**
 * The hash of a document's raw source, format and metadata (a plain text document's is the one it
 * always had), so an unchanged document is skipped before it is even converted.
 */
export function documentHash(d: DocumentInput): string {
  const format = d.format ?? "text";
  if (format === "text") return contentHash(d.text, d.metadata);
  return createHash("sha256")
    .update(format)
    .update("\0")
    .update(format === "pdf" ? (d.content ?? new Uint8Array()) : d.text)
    .update("\0")
    .update(JSON.stringify(d.metadata))
    .digest("hex");
}

/** Converts a document to text and chunks it; its chunks' positions, if any, go with its metadata. */
async function toWrite(
  { doc: d, hash }: { doc: DocumentInput; hash: string },
  col: CollectionRow,
  opts: IngestOptions,
): Promise<DocumentWrite> {
  const parsed = await parseDocument(d);
  const chunks = chunkText(
    parsed.text,
    col.chunkSize,
    col.chunkOverlap,
    await chunkUnit(parsed.text, col, opts),
  );
  const positions = chunkPositions(
    parsed.marks,
    chunks.map((c) => c.start),
  );
  return {
    id: d.id,
    metadata: positions.length > 0 ? { ...d.metadata, [POSITIONS_KEY]: positions } : d.metadata,
    hash,
    chunks,
  };
}

/** What the collection's chunk sizes count; in tokens, the converted text's tokens of its embedding model. */
async function chunkUnit(
  text: string,
  col: CollectionRow,
  opts: IngestOptions,
): Promise<ChunkUnit | undefined> {
  if (col.chunkUnit !== "tokens" || text.trim() === "") return undefined;
  if (!opts.tokenizer || !col.embeddingModel) {
    throw new FailedPreconditionError(
      `collection '${col.name}' counts tokens but no tokenizer is configured for '${col.embeddingModel}'`,
    );
  }
  const [starts = []] = await opts.tokenizer.tokenize(col.embeddingModel, [text], opts.signal);
  return { kind: "tokens", starts };
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
  const writes: DocumentWrite[] = [];
  // One at a time: a PDF's conversion holds its pages in memory.
  for (const d of changed) writes.push(await toWrite(d, col, opts));
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
