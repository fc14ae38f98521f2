import { FailedPreconditionError } from "@sloughgpt/runtime";
import type { Embedder } from "../embedding/embedder.js";
import type { CollectionRow, SearchHit } from "../store/store.js";
import type { FilterNode } from "./filter.js";

/**
 * The seam for vector search (pgvector or Qdrant, behind an embedding model). An implementation
 * embeds the query itself, applies `filter` inside its index scan (so `topK` matching chunks come
 * back whenever they exist) and returns chunks best first with the same ids as the lexical index
 * (`documentId#index`), which is what fusion joins on.
 */
export interface DenseIndex {
  search(req: DenseQuery): Promise<SearchHit[]>;
}

export interface DenseQuery {
  collection: CollectionRow;
  query: string;
  topK: number;
  filter?: FilterNode | undefined;
  signal?: AbortSignal | undefined;
}

/** An optional last stage (a cross-encoder, say): reorders candidates, best first. */
export interface Reranker {
  rerank(query: string, hits: SearchHit[], signal?: AbortSignal): Promise<SearchHit[]>;
}

/** What dense search needs from the store (RagStore in production). */
export interface VectorStore {
  nearest(
    col: CollectionRow,
    vector: number[],
    opts: { topK: number; filter?: FilterNode | undefined },
  ): Promise<SearchHit[]>;
}

/** Dense search over the store's chunk embeddings, the query embedded with the collection's model. */
export class EmbeddingIndex implements DenseIndex {
  constructor(
    private readonly store: VectorStore,
    private readonly embedder: Embedder,
  ) {}

  async search(req: DenseQuery): Promise<SearchHit[]> {
    const model = req.collection.embeddingModel;
    if (!model)
      throw new FailedPreconditionError(`collection '${req.collection.name}' has no embedding model`, {
        param: "mode",
        reason: "no_embedding_model",
      });
    const [vector] = await this.embedder.embed(model, [req.query], req.signal, req.collection.team);
    if (!vector) throw new Error(`embedding model '${model}' returned no vector`);
    return this.store.nearest(req.collection, vector, { topK: req.topK, filter: req.filter });
  }
}
