import { FailedPreconditionError } from "@sloughgpt/runtime";
import type { Embedder } from "../embedding/embedder.js";
import type { DenseQuery } from "../retrieval/dense.js";
import type { StoreFusion } from "../retrieval/retriever.js";
import type { WeightedTerm } from "../text/analyzer.js";
import type { QdrantVectors } from "./qdrant.js";
import type { CollectionRow, SearchHit } from "./store.js";

/**
 * Hybrid search of collections whose vectors are in Qdrant: the query embedded with the
 * collection's model and its lexemes as a sparse vector (weighted by their IDF in the collection),
 * both searched and fused by RRF with rag's k in one Qdrant Query API request (QdrantVectors.hybrid).
 */
export class QdrantHybrid implements StoreFusion {
  constructor(
    private readonly vectors: QdrantVectors,
    private readonly embedder: Embedder,
  ) {}

  holds(col: CollectionRow): boolean {
    return col.store === "qdrant" && col.embeddingModel !== "";
  }

  async hybrid(req: DenseQuery & { terms: WeightedTerm[]; depth: number; k: number }): Promise<SearchHit[]> {
    const col = req.collection;
    if (!col.embeddingModel)
      throw new FailedPreconditionError(`collection '${col.name}' has no embedding model`, {
        param: "mode",
        reason: "no_embedding_model",
      });
    const [dense] = await this.embedder.embed(col.embeddingModel, [req.query], req.signal, col.team);
    if (!dense) throw new Error(`embedding model '${col.embeddingModel}' returned no vector`);
    return this.vectors.hybrid(
      col,
      { dense, terms: req.terms },
      { topK: req.topK, depth: req.depth, k: req.k, filter: req.filter },
    );
  }
}
