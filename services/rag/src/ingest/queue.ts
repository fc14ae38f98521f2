import { status as GrpcStatus } from "@grpc/grpc-js";
import { RetentionPolicy } from "@nats-io/jetstream";
import { type Bus, consume, defineSubject, publish } from "@sloughgpt/bus";
import { AppError, InvalidArgumentError, type Logger } from "@sloughgpt/runtime";
import { z } from "zod";
import type { Tokenizer } from "../chunking/tokenizer.js";
import type { Embedder } from "../embedding/embedder.js";
import { DOCUMENT_FORMATS } from "../parse/index.js";
import { type DocumentInput, ingestDocuments } from "../store/ingest.js";
import type { RagStore } from "../store/store.js";
import type { JobStore } from "./jobs.js";

/** One stream (work-queue retention: a message is removed once acknowledged) for documents and dead letters. */
export const INGEST_STREAM = "RAG";

export const ingestDocument = defineSubject({
  stream: INGEST_STREAM,
  subject: "rag.ingest.documents",
  schema: z.object({
    jobId: z.string(),
    /** Position in the job: the key of its outcome row. */
    seq: z.number().int().nonnegative(),
    team: z.string(),
    collection: z.string(),
    document: z.object({
      id: z.string(),
      text: z.string(),
      metadata: z.record(z.string(), z.unknown()),
      /** Unset (messages queued before formats existed): text. */
      format: z.enum(DOCUMENT_FORMATS).optional(),
      /** A PDF's bytes, base64. */
      content: z.base64().optional(),
    }),
  }),
});

type QueuedDocument = z.infer<typeof ingestDocument.schema>["document"];

const toMessage = (d: DocumentInput): QueuedDocument => ({
  id: d.id,
  text: d.text,
  metadata: d.metadata,
  format: d.format,
  content: d.content ? Buffer.from(d.content).toString("base64") : undefined,
});

const fromMessage = (d: QueuedDocument): DocumentInput => ({
  ...d,
  content: d.content === undefined ? undefined : Buffer.from(d.content, "base64"),
});

/** Documents that failed for good, with the error; kept for inspection (7 days). */
export const deadLetter = defineSubject({
  stream: INGEST_STREAM,
  subject: "rag.ingest.dead",
  schema: z.object({
    jobId: z.string(),
    seq: z.number().int(),
    team: z.string(),
    collection: z.string(),
    documentId: z.string(),
    error: z.string(),
    deliveries: z.number().int(),
  }),
});

/** NATS's default largest message is 1 MiB; the rest of the envelope is small. */
export const MAX_QUEUED_TEXT_BYTES = 900_000;

export async function ensureIngestStream(bus: Bus): Promise<void> {
  const config = {
    name: bus.stream(INGEST_STREAM),
    subjects: [bus.subject("rag.ingest.>")],
    retention: RetentionPolicy.Workqueue,
    max_age: 7 * 24 * 3600 * 1e9,
    duplicate_window: 120 * 1e9,
  };
  try {
    await bus.jsm.streams.info(config.name);
  } catch {
    await bus.jsm.streams.add(config);
  }
}

/**
 * Queues a job's documents, one message each; the message id (job, position) makes a retried
 * publish a no-op within the duplicate window.
 */
export async function enqueueDocuments(
  bus: Bus,
  job: { id: string; team: string; collection: string },
  docs: DocumentInput[],
): Promise<void> {
  const messages = docs.map(toMessage);
  for (const [i, d] of messages.entries()) {
    if (Buffer.byteLength(d.text) + (d.content?.length ?? 0) > MAX_QUEUED_TEXT_BYTES)
      throw new InvalidArgumentError(
        `document over ${MAX_QUEUED_TEXT_BYTES} bytes (a PDF's as base64); use the synchronous upsert`,
        {
          param: `documents.${i}.${d.format === "pdf" ? "content" : "text"}`,
        },
      );
  }
  // In groups, so a large job does not hold hundreds of unacknowledged publishes at once.
  for (let i = 0; i < docs.length; i += 64) {
    await Promise.all(
      messages
        .slice(i, i + 64)
        .map((document, j) =>
          publish(
            bus,
            ingestDocument,
            { jobId: job.id, seq: i + j, team: job.team, collection: job.collection, document },
            { msgId: `${job.id}:${i + j}` },
          ),
        ),
    );
  }
}

export interface WorkerDeps {
  bus: Bus;
  store: RagStore;
  jobs: JobStore;
  embedder?: Embedder | undefined;
  tokenizer?: Tokenizer | undefined;
  logger: Logger;
  signal: AbortSignal;
  /** Deliveries of one message before it goes to the dead-letter subject. */
  maxDeliver: number;
}

/** Errors a retry cannot fix: the request itself is wrong, or the collection is gone. */
function isPermanent(err: unknown): boolean {
  return (
    err instanceof AppError &&
    [GrpcStatus.INVALID_ARGUMENT, GrpcStatus.NOT_FOUND, GrpcStatus.FAILED_PRECONDITION].includes(err.code)
  );
}

/**
 * Consumes queued documents until `signal` aborts. Each is upserted (chunks and embeddings in one
 * transaction), then its outcome recorded, and only then acknowledged; a crash in between redelivers
 * it, and the content hash makes the second upsert a no-op. Failures are retried with backoff
 * (nak with delay); after `maxDeliver` deliveries, or at once for a permanent error, the document
 * goes to the dead-letter subject and counts as failed in its job.
 */
export function runIngestWorker(deps: WorkerDeps): Promise<void> {
  return consume(deps.bus, {
    def: ingestDocument,
    durable: "rag-ingest",
    logger: deps.logger,
    signal: deps.signal,
    // One more than ours, so the last delivery is handled (dead-lettered) here, not dropped.
    maxDeliver: deps.maxDeliver + 1,
    handler: async (m, msg) => {
      try {
        const col = await deps.store.getCollection(m.team, m.collection);
        await ingestDocuments(deps.store, col, [fromMessage(m.document)], {
          embedder: deps.embedder,
          tokenizer: deps.tokenizer,
          signal: deps.signal,
        });
        await deps.jobs.finish(m.jobId, m.seq, m.document.id);
      } catch (err) {
        if (deps.signal.aborted || (!isPermanent(err) && msg.info.deliveryCount < deps.maxDeliver)) throw err;
        const error = err instanceof Error ? err.message : String(err);
        await publish(
          deps.bus,
          deadLetter,
          { ...m, documentId: m.document.id, error, deliveries: msg.info.deliveryCount },
          { msgId: `dead:${m.jobId}:${m.seq}` },
        );
        await deps.jobs.finish(m.jobId, m.seq, m.document.id, error);
        deps.logger.warn({ job: m.jobId, document: m.document.id, err }, "Dead-lettered a document");
      }
    },
  });
}
