import type { rag } from "@sloughgpt/proto";
import { InvalidArgumentError, type Logger, type Metrics, unary } from "@sloughgpt/runtime";
import { z } from "zod";
import { chunkText } from "./chunking/chunker.js";
import { contentHash, type RagStore } from "./store/store.js";

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
});

const upsert = z.object({
  collection: name,
  team,
  documents: z
    .array(
      z.object({
        id: z.string().min(1).max(512),
        text: z.string().max(5_000_000),
        metadataJson: z.string(),
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
});

function parseMetadata(json: string, i: number): Record<string, unknown> {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError("metadata must be a JSON object", { param: `documents.${i}.metadata` });
}

export function ragHandlers(deps: {
  store: RagStore;
  defaults: { chunkSize: number; chunkOverlap: number };
  logger: Logger;
  metrics: Metrics;
}) {
  const env = { logger: deps.logger, metrics: deps.metrics, service: "RagService" };
  const impl: rag.RagServiceServer = {
    createCollection: unary<rag.CreateCollectionRequest, rag.CreateCollectionResponse>(
      env,
      "CreateCollection",
      async (raw) => {
        const req = createCollection.parse(raw);
        const chunkSize = req.chunkSize ?? deps.defaults.chunkSize;
        const chunkOverlap =
          req.chunkOverlap ??
          (req.chunkSize === undefined
            ? deps.defaults.chunkOverlap
            : Math.min(deps.defaults.chunkOverlap, Math.floor(chunkSize / 4)));
        if (chunkOverlap >= chunkSize) {
          throw new InvalidArgumentError("chunk_overlap must be smaller than chunk_size", {
            param: "chunk_overlap",
          });
        }
        const c = await deps.store.createCollection({
          team: req.team,
          name: req.name,
          chunkSize,
          chunkOverlap,
        });
        return { collection: { ...c, createdUnix: Math.floor(c.createdAt.getTime() / 1000) } };
      },
    ),
    upsert: unary<rag.UpsertRequest, rag.UpsertResponse>(env, "Upsert", async (raw) => {
      const req = upsert.parse(raw);
      const col = await deps.store.getCollection(req.team, req.collection);
      const docs = req.documents.map((d, i) => ({ ...d, metadata: parseMetadata(d.metadataJson, i) }));
      let documents = 0;
      let chunks = 0;
      for (const d of docs) {
        const parts = chunkText(d.text, col.chunkSize, col.chunkOverlap);
        const changed = await deps.store.upsertDocument(
          col,
          { id: d.id, metadata: d.metadata, hash: contentHash(d.text, d.metadata) },
          parts,
        );
        if (changed) {
          documents += 1;
          chunks += parts.length;
        }
      }
      return { documents, chunks };
    }),
    search: unary<rag.SearchRequest, rag.SearchResponse>(env, "Search", async (raw) => {
      const req = search.parse(raw);
      const col = await deps.store.getCollection(req.team, req.collection);
      const hits = await deps.store.search(col, req.query, req.topK || 10);
      return {
        results: hits.map((h) => ({
          documentId: h.documentId,
          chunkId: h.chunkId,
          score: h.score,
          text: h.text,
          metadataJson: JSON.stringify(h.metadata),
        })),
      };
    }),
  };
  return impl;
}
