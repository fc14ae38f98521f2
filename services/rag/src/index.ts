// The rag service's domain code, for tools that drive it in process (bench/rag).
export { type Chunk, chunkText } from "./chunking/chunker.js";
export { type Embedder, embedAll } from "./embedding/embedder.js";
export { BM25_DEFAULTS, type Bm25Params } from "./retrieval/bm25.js";
export { CALIBRATION_DEFAULTS, type CalibrationParams } from "./retrieval/calibrate.js";
export { type DenseIndex, type DenseQuery, EmbeddingIndex, type Reranker } from "./retrieval/dense.js";
export { type FilterNode, matchesFilter, parseFilter } from "./retrieval/filter.js";
export {
  FUSION_DEFAULTS,
  type FusionOptions,
  Retriever,
  type RetrieverOptions,
  SEARCH_MODES,
  type SearchMode,
} from "./retrieval/retriever.js";
export { RM3_DEFAULTS, type Rm3Params } from "./retrieval/rm3.js";
export { reciprocalRankFusion } from "./retrieval/rrf.js";
export { type DocumentInput, ingestDocuments } from "./store/ingest.js";
export { openRagStore } from "./store/open.js";
export { type CollectionRow, migrations, RagStore, type SearchHit } from "./store/store.js";
