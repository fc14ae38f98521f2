import { BM25_DEFAULTS, type Bm25Params } from "../retrieval/bm25.js";
import type { WeightedTerm } from "./analyzer.js";

/**
 * BM25 as sparse vectors, for an index (Qdrant) that scores by dot product. A chunk's vector holds
 * each lexeme's saturated, length-normalized term frequency; a query's holds each lexeme's weight
 * times its IDF in the rag collection (from the Postgres statistics, the same IDF as
 * retrieval/bm25.ts), so the dot product is the BM25 score. The IDF is never left to Qdrant
 * (`modifier: "idf"`): it would count the points of every tenant in the shared collection.
 *
 * Lexemes come from rag's own analyzer (`rag.analyze`, text/analyzer.ts), so a vector and the
 * Postgres postings of a chunk always agree on its terms. A dimension is a hash of the lexeme: no
 * vocabulary to keep, the same id for the same lexeme in every process and release.
 */
export interface SparseVector {
  /** Unique, ascending. */
  indices: number[];
  values: number[];
}

/** A lexeme's dimension: 32-bit FNV-1a of its UTF-8 bytes (Qdrant's indices are u32). Pure. */
export function termIndex(term: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(term)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Values summed per dimension (two lexemes whose hashes collide share one), indices ascending. */
function fromWeights(weights: Iterable<[string, number]>): SparseVector {
  const byIndex = new Map<number, number>();
  for (const [term, w] of weights) {
    if (!(w > 0)) continue;
    const i = termIndex(term);
    byIndex.set(i, (byIndex.get(i) ?? 0) + w);
  }
  const indices = [...byIndex.keys()].sort((a, b) => a - b);
  return { indices, values: indices.map((i) => byIndex.get(i) as number) };
}

/**
 * A chunk's vector from its lexeme counts: tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl)),
 * dl the chunk's token count. `avgdl` is the collection's mean chunk length when the chunk is
 * written (a vector is not rewritten when the mean moves later). Pure.
 */
export function chunkSparseVector(
  counts: ReadonlyMap<string, number>,
  avgdl: number,
  params: Bm25Params = BM25_DEFAULTS,
): SparseVector {
  let dl = 0;
  for (const tf of counts.values()) dl += tf;
  const norm = params.k1 * (1 - params.b + (params.b * dl) / (avgdl > 0 ? avgdl : Math.max(dl, 1)));
  return fromWeights([...counts].map(([t, tf]) => [t, (tf * (params.k1 + 1)) / (tf + norm)]));
}

/** BM25's IDF of a lexeme in `df` of `chunks` chunks (Lucene's, never negative). Pure. */
export function bm25Idf(chunks: number, df: number): number {
  return Math.log(1 + (chunks - df + 0.5) / (df + 0.5));
}

/** What a query's IDF is computed from: one rag collection's chunk count and lexeme frequencies. */
export interface CollectionFrequencies {
  chunks: number;
  /** Chunks holding each lexeme; a lexeme missing here is in none. */
  df: ReadonlyMap<string, number>;
}

/**
 * A query's vector: each lexeme's weight (its count, or its weight after expansion), times its IDF
 * in the collection when `freq` is given (a lexeme in no chunk is dropped: it matches nothing). Pure.
 */
export function querySparseVector(
  terms: readonly WeightedTerm[],
  freq?: CollectionFrequencies,
): SparseVector {
  if (!freq) return fromWeights(terms.map((t) => [t.term, t.weight]));
  return fromWeights(
    terms.flatMap((t): [string, number][] => {
      const df = freq.df.get(t.term);
      return df === undefined || df <= 0 ? [] : [[t.term, t.weight * bm25Idf(freq.chunks, df)]];
    }),
  );
}
