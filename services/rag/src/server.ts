import { rag } from "@sloughgpt/proto";
import {
  AppError,
  FailedPreconditionError,
  InvalidArgumentError,
  type Logger,
  type Metrics,
  serverStream,
  unary,
} from "@sloughgpt/runtime";
import { z } from "zod";
import {
  type Answer,
  type AnswerInput,
  answerQuestion,
  type ChatModel,
  streamAnswer,
} from "./answer/answer.js";
import type { Tokenizer } from "./chunking/tokenizer.js";
import type { Embedder } from "./embedding/embedder.js";
import type { JobStore } from "./ingest/jobs.js";
import {
  type DocumentFormat,
  MAX_PDF_BYTES,
  MAX_TEXT_CHARS,
  POSITIONS_KEY,
  positionOf,
} from "./parse/index.js";
import { type FilterNode, parseFilter } from "./retrieval/filter.js";
import type { Retriever, SearchMode } from "./retrieval/retriever.js";
import { type DocumentInput, ingestDocuments } from "./store/ingest.js";
import type { CollectionRow, RagStore, SearchHit } from "./store/store.js";

const name = z
  .string()
  .regex(
    /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/,
    "1-63 letters, digits, '_', '.', '-'; starting with a letter or digit",
  );
const team = z.string().min(1, "team is required");

const createCollection = z.object({
  name,
  team,
  chunkSize: z.number().int().min(1).max(20_000).optional(),
  chunkOverlap: z.number().int().min(0).optional(),
  embeddingModel: z.string().max(256).optional(),
  store: z.enum(["postgres", "qdrant"]).optional(),
  chunkUnit: z.enum(rag.ChunkUnit).optional(),
});

const upsert = z.object({
  collection: name,
  team,
  documents: z
    .array(
      z.object({
        id: z.string().min(1).max(512),
        text: z.string().max(MAX_TEXT_CHARS),
        metadataJson: z.string(),
        format: z.enum(rag.DocumentFormat).optional(),
        content: z.instanceof(Uint8Array).optional(),
      }),
    )
    .min(1)
    .max(1000),
});

const search = z.object({
  collection: name,
  team,
  query: z.string().min(1, "query is required").max(10_000),
  topK: z.number().int().min(0).max(1000),
  mode: z.enum(rag.SearchMode).optional(),
  filterJson: z.string().max(100_000).optional(),
});

const deleteDocuments = z.object({
  collection: name,
  team,
  ids: z.array(z.string().min(1).max(512)).max(10_000),
  filterJson: z.string().max(100_000).optional(),
});

const MODES: Record<rag.SearchMode, SearchMode | undefined> = {
  [rag.SearchMode.SEARCH_MODE_UNSPECIFIED]: undefined,
  [rag.SearchMode.SEARCH_MODE_LEXICAL]: "lexical",
  [rag.SearchMode.SEARCH_MODE_DENSE]: "dense",
  [rag.SearchMode.SEARCH_MODE_HYBRID]: "hybrid",
  [rag.SearchMode.UNRECOGNIZED]: undefined,
};

const FORMATS: Record<rag.DocumentFormat, DocumentFormat | undefined> = {
  [rag.DocumentFormat.DOCUMENT_FORMAT_UNSPECIFIED]: "text",
  [rag.DocumentFormat.DOCUMENT_FORMAT_TEXT]: "text",
  [rag.DocumentFormat.DOCUMENT_FORMAT_MARKDOWN]: "markdown",
  [rag.DocumentFormat.DOCUMENT_FORMAT_HTML]: "html",
  [rag.DocumentFormat.DOCUMENT_FORMAT_PDF]: "pdf",
  [rag.DocumentFormat.UNRECOGNIZED]: undefined,
};

function parseMetadata(json: string, i: number): Record<string, unknown> {
  if (!json) return {};
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    // reported below
  }
  if (!v || typeof v !== "object" || Array.isArray(v))
    throw new InvalidArgumentError("metadata must be a JSON object", { param: `documents.${i}.metadata` });
  if (POSITIONS_KEY in v)
    throw new InvalidArgumentError(`metadata key '${POSITIONS_KEY}' is reserved`, {
      param: `documents.${i}.metadata`,
    });
  return v as Record<string, unknown>;
}

type UpsertDocument = z.infer<typeof upsert>["documents"][number];

/** A request's document as ingestion takes it: text formats in `text`, a PDF's bytes in `content`. */
function toDocumentInput(d: UpsertDocument, i: number): DocumentInput {
  const format = FORMATS[d.format ?? rag.DocumentFormat.DOCUMENT_FORMAT_UNSPECIFIED];
  if (!format) throw new InvalidArgumentError("unknown document format", { param: `documents.${i}.format` });
  const metadata = parseMetadata(d.metadataJson, i);
  const content = d.content ?? new Uint8Array();
  if (format !== "pdf") {
    if (content.length > 0)
      throw new InvalidArgumentError(`a ${format} document has text, not content`, {
        param: `documents.${i}.content`,
      });
    return { id: d.id, text: d.text, metadata, format };
  }
  if (d.text.length > 0)
    throw new InvalidArgumentError("a PDF document has content, not text", { param: `documents.${i}.text` });
  if (content.length === 0 || content.length > MAX_PDF_BYTES)
    throw new InvalidArgumentError(`a PDF document needs content of 1 to ${MAX_PDF_BYTES} bytes`, {
      param: `documents.${i}.content`,
    });
  return { id: d.id, text: "", metadata, format, content };
}

function parseFilterJson(json: string | undefined): FilterNode | undefined {
  if (!json) return undefined;
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch (cause) {
    throw new InvalidArgumentError("filter must be JSON", { param: "filter", cause });
  }
  return parseFilter(input);
}

/** A hit as a result: its document's metadata, and its chunk's page and heading where it has them. */
const toResult = (h: SearchHit): rag.SearchResult => {
  const { metadata, position } = positionOf(h.metadata, h.index);
  return {
    documentId: h.documentId,
    chunkId: h.chunkId,
    score: h.score,
    text: h.text,
    metadataJson: JSON.stringify(metadata),
    ...position,
  };
};

const answer = z.object({
  collection: name,
  team,
  question: z.string().min(1, "question is required").max(10_000),
  topK: z.number().int().min(0).max(50),
  model: z.string().max(256),
  maxTokens: z.number().int().min(0).max(8192),
  mode: z.enum(rag.SearchMode).optional(),
  filterJson: z.string().max(100_000).optional(),
  keyId: z.string(),
  requestId: z.string(),
});

const getCollection = z.object({ name, team });

const getJob = z.object({ id: z.string().min(1).max(100), team });

function checkStore(store: "postgres" | "qdrant" | undefined, qdrantConfigured: boolean) {
  if (store === "qdrant" && !qdrantConfigured)
    throw new FailedPreconditionError("this service has no Qdrant (QDRANT_URL is not set)", {
      param: "store",
      reason: "qdrant_not_configured",
    });
  return store;
}

export interface RagDeps {
  qdrantConfigured: boolean;
  store: RagStore;
  jobs: JobStore;
  /** Queues a job's documents (JetStream in production). */
  enqueue: (job: { id: string; team: string; collection: string }, docs: DocumentInput[]) => Promise<void>;
  retriever: Retriever;
  chat: ChatModel;
  embedder?: Embedder | undefined;
  tokenizer?: Tokenizer | undefined;
  defaults: { chunkSize: number; chunkOverlap: number; embeddingModel: string; answerModel: string };
  logger: Logger;
  metrics: Metrics;
}

/** A token is about four characters of English: the defaults, counted in tokens, keep chunks about as long. */
const CHARS_PER_TOKEN = 4;

function chunkSettings(req: z.infer<typeof createCollection>, defaults: RagDeps["defaults"]) {
  if (req.chunkUnit === rag.ChunkUnit.UNRECOGNIZED) {
    throw new InvalidArgumentError("chunk_unit must be characters or tokens", { param: "chunk_unit" });
  }
  const chunkUnit = req.chunkUnit === rag.ChunkUnit.CHUNK_UNIT_TOKENS ? "tokens" : "characters";
  const scale = chunkUnit === "tokens" ? CHARS_PER_TOKEN : 1;
  const defaultSize = Math.max(16, Math.floor(defaults.chunkSize / scale));
  const defaultOverlap = Math.floor(defaults.chunkOverlap / scale);
  const chunkSize = req.chunkSize ?? defaultSize;
  const chunkOverlap =
    req.chunkOverlap ??
    (req.chunkSize === undefined ? defaultOverlap : Math.min(defaultOverlap, Math.floor(chunkSize / 4)));
  if (chunkOverlap >= chunkSize) {
    throw new InvalidArgumentError("chunk_overlap must be smaller than chunk_size", {
      param: "chunk_overlap",
    });
  }
  return { chunkSize, chunkOverlap, chunkUnit } as const;
}

/** Chunks counted in tokens need the embedding model's tokenizer: asked once, so a model that has none is refused now. */
async function checkTokenizer(
  settings: { chunkUnit: "characters" | "tokens" },
  embeddingModel: string,
  tokenizer: Tokenizer | undefined,
  signal: AbortSignal,
): Promise<void> {
  if (settings.chunkUnit !== "tokens") return;
  if (!embeddingModel || !tokenizer) {
    throw new InvalidArgumentError("chunk_unit tokens needs an embedding model to count the tokens of", {
      param: "chunk_unit",
    });
  }
  try {
    await tokenizer.tokenize(embeddingModel, ["tokenizer check"], signal);
  } catch (err) {
    // Serving's refusal keeps its status; the parameter at fault is this request's.
    if (!(err instanceof AppError)) throw err;
    throw new AppError(err.code, `embedding model '${embeddingModel}' cannot count tokens: ${err.message}`, {
      param: "embedding_model",
      reason: err.reason,
    });
  }
}

const CHUNK_UNITS = {
  characters: rag.ChunkUnit.CHUNK_UNIT_CHARACTERS,
  tokens: rag.ChunkUnit.CHUNK_UNIT_TOKENS,
} as const;

/** A stored collection as the API shows it. */
function toProtoCollection(c: CollectionRow): rag.Collection {
  return {
    name: c.name,
    team: c.team,
    chunkSize: c.chunkSize,
    chunkOverlap: c.chunkOverlap,
    createdUnix: Math.floor(c.createdAt.getTime() / 1000),
    embeddingModel: c.embeddingModel,
    store: c.store,
    chunkUnit: CHUNK_UNITS[c.chunkUnit],
  };
}

export function ragHandlers(deps: RagDeps): rag.RagServiceServer {
  const env = { logger: deps.logger, metrics: deps.metrics, service: "RagService" };
  /** The validated request, its collection (the team's, or not found) and the answer's settings. */
  const answerInput = async (raw: unknown, signal: AbortSignal) => {
    const req = answer.parse(raw);
    const col = await deps.store.getCollection(req.team, req.collection);
    const input: AnswerInput = {
      query: req.question,
      topK: req.topK || 5,
      mode: req.mode === undefined ? undefined : MODES[req.mode],
      filter: parseFilterJson(req.filterJson),
      signal,
      model: req.model || deps.defaults.answerModel,
      maxTokens: req.maxTokens || 512,
      keyId: req.keyId,
      requestId: req.requestId,
    };
    return { col, input };
  };
  return {
    createCollection: unary<rag.CreateCollectionRequest, rag.CreateCollectionResponse>(
      env,
      "CreateCollection",
      async (raw, ctx) => {
        const req = createCollection.parse(raw);
        const settings = chunkSettings(req, deps.defaults);
        const embeddingModel = req.embeddingModel ?? deps.defaults.embeddingModel;
        const store = checkStore(req.store, deps.qdrantConfigured);
        await checkTokenizer(settings, embeddingModel, deps.tokenizer, ctx.signal);
        const c = await deps.store.createCollection({
          team: req.team,
          name: req.name,
          ...settings,
          embeddingModel,
          store,
        });
        return { collection: toProtoCollection(c) };
      },
    ),
    getCollection: unary<rag.GetCollectionRequest, rag.GetCollectionResponse>(
      env,
      "GetCollection",
      async (raw) => {
        const req = getCollection.parse(raw);
        const c = await deps.store.getCollection(req.team, req.name);
        const { chunks } = await deps.store.stats(c);
        return {
          collection: toProtoCollection(c),
          chunks,
          denseWeight: c.denseWeight ?? undefined,
          calibratedChunks: c.calibratedChunks,
        };
      },
    ),
    submitIngestJob: unary<rag.SubmitIngestJobRequest, rag.SubmitIngestJobResponse>(
      env,
      "SubmitIngestJob",
      async (raw) => {
        const req = upsert.parse(raw);
        await deps.store.getCollection(req.team, req.collection);
        const docs = req.documents.map(toDocumentInput);
        const id = await deps.jobs.create({ team: req.team, collection: req.collection, total: docs.length });
        await deps.enqueue({ id, team: req.team, collection: req.collection }, docs);
        return { jobId: id };
      },
    ),
    getIngestJob: unary<rag.GetIngestJobRequest, rag.GetIngestJobResponse>(
      env,
      "GetIngestJob",
      async (raw) => {
        const req = getJob.parse(raw);
        const j = await deps.jobs.get(req.team, req.id);
        return { ...j, createdUnix: Math.floor(j.createdAt.getTime() / 1000) };
      },
    ),
    upsert: unary<rag.UpsertRequest, rag.UpsertResponse>(env, "Upsert", async (raw, ctx) => {
      const req = upsert.parse(raw);
      const col = await deps.store.getCollection(req.team, req.collection);
      const docs = req.documents.map(toDocumentInput);
      return ingestDocuments(deps.store, col, docs, {
        embedder: deps.embedder,
        tokenizer: deps.tokenizer,
        signal: ctx.signal,
      });
    }),
    search: unary<rag.SearchRequest, rag.SearchResponse>(env, "Search", async (raw, ctx) => {
      const req = search.parse(raw);
      const col = await deps.store.getCollection(req.team, req.collection);
      const hits = await deps.retriever.search(col, {
        query: req.query,
        topK: req.topK || 10,
        mode: req.mode === undefined ? undefined : MODES[req.mode],
        filter: parseFilterJson(req.filterJson),
        signal: ctx.signal,
      });
      return { results: hits.map(toResult) };
    }),
    answer: unary<rag.AnswerRequest, rag.AnswerResponse>(env, "Answer", async (raw, ctx) => {
      const { col, input } = await answerInput(raw, ctx.signal);
      const a = await answerQuestion({ retriever: deps.retriever, chat: deps.chat }, col, input);
      return toAnswerResponse(a, input.model, a.passages.map(toResult));
    }),
    answerStream: serverStream<rag.AnswerStreamRequest, rag.AnswerStreamResponse>(
      env,
      "AnswerStream",
      async (raw, write, ctx) => {
        const { col, input } = await answerInput(raw.request ?? {}, ctx.signal);
        for await (const ev of streamAnswer({ retriever: deps.retriever, chat: deps.chat }, col, input)) {
          if (ctx.signal.aborted) return;
          if ("passages" in ev) {
            await write({
              event: {
                $case: "passages",
                passages: { passages: ev.passages.map(toResult), model: input.model },
              },
            });
          } else if ("delta" in ev) {
            await write({ event: { $case: "delta", delta: ev.delta } });
          } else {
            await write({ event: { $case: "final", final: toAnswerResponse(ev.final, input.model, []) } });
          }
        }
      },
    ),
    deleteDocuments: unary<rag.DeleteDocumentsRequest, rag.DeleteDocumentsResponse>(
      env,
      "DeleteDocuments",
      async (raw) => {
        const req = deleteDocuments.parse(raw);
        const filter = parseFilterJson(req.filterJson);
        if (!filter && req.ids.length === 0)
          throw new InvalidArgumentError("give ids or a filter", { param: "ids" });
        const col = await deps.store.getCollection(req.team, req.collection);
        return deps.store.deleteDocuments(col, filter ? { filter } : { ids: req.ids });
      },
    ),
  };
}

function toAnswerResponse(a: Answer, model: string, passages: rag.SearchResult[]): rag.AnswerResponse {
  return {
    answer: a.text,
    citations: a.citations.map((c) => ({
      number: c.number,
      documentId: c.hit.documentId,
      chunkId: c.hit.chunkId,
      ...positionOf(c.hit.metadata, c.hit.index).position,
    })),
    invalidCitations: a.invalid,
    passages,
    model,
    promptTokens: a.promptTokens,
    completionTokens: a.completionTokens,
  };
}
