import { FailedPreconditionError } from "@sloughgpt/runtime";
import type { CollectionRow, RagStore, SearchHit } from "../store/store.js";
import type { WeightedTerm } from "../text/analyzer.js";
import { BM25_DEFAULTS, type Bm25Params } from "./bm25.js";
import {
  CALIBRATION_DEFAULTS,
  type CalibrationParams,
  chanceMrr,
  denseWeight,
  meanReciprocalRank,
  needsCalibration,
  pseudoQuery,
} from "./calibrate.js";
import type { DenseIndex, DenseQuery, Reranker } from "./dense.js";
import type { FilterNode } from "./filter.js";
import { proximityScore } from "./proximity.js";
import { RM3_DEFAULTS, type Rm3Params, rm3Expand } from "./rm3.js";
import { RRF_K, reciprocalRankFusion } from "./rrf.js";

export const SEARCH_MODES = ["lexical", "dense", "hybrid"] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** What lexical retrieval needs from the store (RagStore in production). */
export type LexicalIndex = Pick<RagStore, "analyze" | "bm25" | "termVectors" | "termPositions">;

/** What the default mode's calibration reads and writes (RagStore in production). */
export type CalibrationStore = Pick<RagStore, "stats" | "sampleChunks" | "setDenseWeight">;

/**
 * Hybrid search fused by the store that keeps a collection's vectors (Qdrant's Query API: both
 * lists and their RRF, with constant `k` as in rrf.ts, in one request), for the collections it
 * `holds`. Used only by the `hybrid` mode with equal configured weights (its RRF is unweighted);
 * its lexical list is BM25 of the query alone (no RM3, no proximity rescoring).
 */
export interface StoreFusion {
  holds(col: CollectionRow): boolean;
  hybrid(req: DenseQuery & { terms: WeightedTerm[]; depth: number; k: number }): Promise<SearchHit[]>;
}

export interface FusionOptions {
  k: number;
  weights: { lexical: number; dense: number };
  /** How many candidates each list contributes (at least the request's top_k). */
  depth: number;
}

/** Elasticsearch's rescore window and Anserini's usual re-ranking depth. */
export const PROXIMITY_DEFAULTS = { window: 100 };

export const FUSION_DEFAULTS: FusionOptions = { k: RRF_K, weights: { lexical: 1, dense: 1 }, depth: 100 };

export interface RetrieverOptions {
  lexical: LexicalIndex;
  /** Unset until an embedding model is configured: dense and hybrid then fail FAILED_PRECONDITION. */
  dense?: DenseIndex | undefined;
  reranker?: Reranker | undefined;
  /**
   * Unset: every hybrid search is fused here, by weighted RRF. Set: the `hybrid` mode of the
   * collections it holds, when the configured weights are equal, is fused by it in one request;
   * the default mode (`auto`, calibrated weights) never is, so its results do not change character
   * when the calibrated weight reaches 1.
   */
  storeFusion?: StoreFusion | undefined;
  bm25?: Bm25Params;
  /** RM3 query expansion as a second lexical pass; `false` ranks by BM25 of the query alone. */
  expansion?: Rm3Params | false;
  fusion?: FusionOptions;
  /** BM25TP proximity rescoring of the lexical top `window` chunks; `false` keeps plain BM25 order. */
  proximity?: { window: number } | false;
  /**
   * The mode of requests that name none. `auto` (the default): hybrid with the dense list weighted
   * by the collection's calibration (calibrate.ts), which is exactly lexical when the embedding
   * model ranks no better than noise or the collection has none.
   */
  defaultMode?: SearchMode | "auto";
  /** Needed by `auto`. */
  calibration?:
    | {
        store: CalibrationStore;
        params?: CalibrationParams;
        /**
         * Whether a search that finds the weight missing or stale waits for the new one. By default
         * it does not: it uses the last weight (none yet: lexical) while the measurement runs in
         * the background, so no request pays for it.
         */
        wait?: boolean;
        /** Ends background measurements (shutdown). */
        signal?: AbortSignal;
        onError?: (err: unknown, col: CollectionRow) => void;
      }
    | undefined;
}

export interface SearchRequest {
  query: string;
  topK: number;
  mode?: SearchMode | undefined;
  filter?: FilterNode | undefined;
  signal?: AbortSignal | undefined;
}

/** Lexical (BM25, then RM3), dense, or both fused by weighted RRF; then the optional reranker. */
export class Retriever {
  private readonly bm25Params: Bm25Params;
  private readonly expansion: Rm3Params | false;
  private readonly fusion: FusionOptions;
  private readonly proximity: { window: number } | false;
  readonly defaultMode: SearchMode | "auto";
  /** Background calibrations in flight, one per collection. */
  private readonly calibrations = new Map<number, Promise<number>>();

  constructor(private readonly opts: RetrieverOptions) {
    this.bm25Params = opts.bm25 ?? BM25_DEFAULTS;
    this.expansion = opts.expansion ?? RM3_DEFAULTS;
    this.fusion = opts.fusion ?? FUSION_DEFAULTS;
    this.proximity = opts.proximity ?? PROXIMITY_DEFAULTS;
    this.defaultMode = opts.defaultMode ?? (opts.calibration ? "auto" : "lexical");
  }

  async search(col: CollectionRow, req: SearchRequest): Promise<SearchHit[]> {
    const depth = this.opts.reranker ? Math.max(req.topK, this.fusion.depth) : req.topK;
    const mode = req.mode ?? this.defaultMode;
    const hits =
      mode === "auto"
        ? await this.auto(col, { ...req, topK: depth })
        : await this.candidates(col, mode, { ...req, topK: depth });
    const ranked = this.opts.reranker ? await this.opts.reranker.rerank(req.query, hits, req.signal) : hits;
    return ranked.slice(0, req.topK);
  }

  /** The default mode: hybrid weighted by the collection's calibration, lexical when dense earns nothing. */
  private async auto(col: CollectionRow, req: SearchRequest): Promise<SearchHit[]> {
    const weight = await this.calibratedWeight(col, req.signal);
    if (weight <= 0) return this.lexical(col, req);
    return this.fuse(col, req, { lexical: 1, dense: weight }, false);
  }

  /** The collection's dense weight, measured again when the collection has grown or shrunk enough. */
  async calibratedWeight(col: CollectionRow, signal?: AbortSignal): Promise<number> {
    const cal = this.opts.calibration;
    if (!cal || !this.opts.dense || !col.embeddingModel) return 0;
    const { chunks } = await cal.store.stats(col);
    const params = cal.params ?? CALIBRATION_DEFAULTS;
    if (col.denseWeight !== null && !needsCalibration(col.calibratedChunks, chunks, params.growth))
      return col.denseWeight;
    if (chunks < params.minChunks) {
      await cal.store.setDenseWeight(col, 0, chunks);
      return 0;
    }
    const running =
      this.calibrations.get(col.id) ?? this.startCalibration(col, chunks, params, cal.signal ?? signal);
    return cal.wait ? running : (col.denseWeight ?? 0);
  }

  /** Resolves when no calibration is running (for shutdown and tools). */
  async idle(): Promise<void> {
    while (this.calibrations.size > 0) await Promise.all(this.calibrations.values());
  }

  private startCalibration(
    col: CollectionRow,
    chunks: number,
    params: CalibrationParams,
    signal?: AbortSignal,
  ): Promise<number> {
    const cal = this.opts.calibration;
    const running = this.calibrate(col, chunks, params, signal)
      .then(async (weight) => {
        await cal?.store.setDenseWeight(col, weight, chunks);
        return weight;
      })
      .catch((err: unknown) => {
        cal?.onError?.(err, col);
        return col.denseWeight ?? 0;
      })
      .finally(() => this.calibrations.delete(col.id));
    this.calibrations.set(col.id, running);
    return running;
  }

  private async calibrate(
    col: CollectionRow,
    chunks: number,
    p: CalibrationParams,
    signal?: AbortSignal,
  ): Promise<number> {
    const dense = this.opts.dense;
    const cal = this.opts.calibration;
    if (!dense || !cal) return 0;
    const sample = await cal.store.sampleChunks(col, p.samples);
    const lexical: string[][] = [];
    const vector: string[][] = [];
    for (const chunk of sample) {
      signal?.throwIfAborted();
      const req = { query: pseudoQuery(chunk.text, p.queryWords), topK: p.depth, signal };
      lexical.push((await this.lexical(col, req)).map((h) => h.chunkId));
      vector.push((await dense.search({ collection: col, ...req })).map((h) => h.chunkId));
    }
    const wanted = sample.map((c) => c.chunkId);
    return denseWeight(
      {
        lexical: meanReciprocalRank(lexical, wanted),
        dense: meanReciprocalRank(vector, wanted),
        chance: chanceMrr(chunks, p.depth),
      },
      p.floor,
    );
  }

  private async candidates(col: CollectionRow, mode: SearchMode, req: SearchRequest): Promise<SearchHit[]> {
    if (mode === "lexical") return this.lexical(col, req);
    const dense = this.requireDense(col);
    if (mode === "dense") return dense.search({ collection: col, ...req });
    const { lexical, dense: d } = this.fusion.weights;
    return this.fuse(col, req, this.fusion.weights, lexical === d && d > 0);
  }

  private requireDense(col: CollectionRow): DenseIndex {
    if (!this.opts.dense || !col.embeddingModel)
      throw new FailedPreconditionError(`collection '${col.name}' has no embedding model`, {
        param: "mode",
        reason: "no_embedding_model",
      });
    return this.opts.dense;
  }

  /** Weighted RRF of the lexical and dense lists; by the store's fusion when `inStore` and it holds `col`. */
  private async fuse(
    col: CollectionRow,
    req: SearchRequest,
    weights: FusionOptions["weights"],
    inStore: boolean,
  ): Promise<SearchHit[]> {
    const dense = this.requireDense(col);
    const depth = Math.max(req.topK, this.fusion.depth);
    const store = this.opts.storeFusion;
    if (inStore && store?.holds(col)) {
      const terms = await this.opts.lexical.analyze(req.query);
      return store.hybrid({ collection: col, ...req, terms, depth, k: this.fusion.k });
    }
    const [lexical, vector] = await Promise.all([
      this.lexical(col, { ...req, topK: depth }),
      dense.search({ collection: col, ...req, topK: depth }),
    ]);
    const fused = reciprocalRankFusion(
      [
        { items: lexical, weight: weights.lexical },
        { items: vector, weight: weights.dense },
      ],
      (h) => h.chunkId,
      this.fusion.k,
    );
    return fused.slice(0, req.topK).map((f) => ({ ...f.item, score: f.score }));
  }

  /**
   * BM25 of the query; then (unless disabled) BM25 of its RM3 expansion from that first pass; then
   * (unless disabled) BM25TP proximity rescoring of the top of the final pass.
   */
  async lexical(col: CollectionRow, req: SearchRequest): Promise<SearchHit[]> {
    const lex = this.opts.lexical;
    const search = (t: WeightedTerm[], topK: number) =>
      lex.bm25(col, t, { topK, filter: req.filter, params: this.bm25Params });
    let terms = await lex.analyze(req.query);
    if (this.expansion) {
      const first = await search(terms, this.expansion.feedbackDocs);
      if (first.length === 0) return [];
      const { vectors, freq } = await lex.termVectors(col, first);
      const feedback = first.map((h) => ({ score: h.score, terms: vectors.get(h.chunkId) ?? new Map() }));
      terms = rm3Expand(terms, feedback, freq, this.expansion);
    }
    if (!this.proximity) return search(terms, req.topK);
    const hits = await search(terms, Math.max(req.topK, this.proximity.window));
    return (await this.rescore(col, terms, hits)).slice(0, req.topK);
  }

  private async rescore(col: CollectionRow, terms: WeightedTerm[], hits: SearchHit[]): Promise<SearchHit[]> {
    if (hits.length === 0) return hits;
    const { chunks, stats } = await this.opts.lexical.termPositions(
      col,
      hits,
      terms.map((t) => t.term),
    );
    const rescored = hits.map((h) => {
      const input = chunks.get(h.chunkId);
      const tp = input ? proximityScore(terms, input, stats, this.bm25Params) : 0;
      return { ...h, score: h.score + tp };
    });
    // Stable: chunks with equal scores keep the store's order.
    return rescored.sort((a, b) => b.score - a.score);
  }
}
