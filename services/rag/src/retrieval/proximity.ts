import type { WeightedTerm } from "../text/analyzer.js";
import type { Bm25Params } from "./bm25.js";

/**
 * BM25TP term proximity (Büttcher, Clarke & Lushman, SIGIR 2006). Walking a chunk's occurrences of
 * query terms in position order, each pair of neighbouring occurrences of two different terms
 * t, t' at distance d adds idf(t')/d² to t's accumulator and idf(t)/d² to t''s. Each accumulator
 * is then saturated and length-normalized exactly like a term frequency in BM25, with the same k1
 * and b:
 *
 *   tp(d) = Σ_t w(t) · min(1, idf(t)) · acc(t) · (k1 + 1) / (acc(t) + k1 · (1 − b + b · dl / avgdl))
 *
 * and the chunk's score is BM25 + tp. w(t) is the term's query weight, as in the BM25 part, so
 * both stay on one scale for expanded queries too. Positions count stop words (the analyzer keeps
 * their places), so "boundary of the layer" is farther apart than "boundary layer".
 */
export interface ProximityInput {
  /** Token count of the chunk after stop words (BM25's dl). */
  length: number;
  /** Query lexeme → its positions in the chunk. */
  positions: ReadonlyMap<string, readonly number[]>;
}

export interface TermStats {
  /** Chunks in the collection. */
  chunks: number;
  avgLength: number;
  df: ReadonlyMap<string, number>;
}

/** Lucene's BM25 idf, as the store computes it. */
export function idf(chunks: number, df: number): number {
  return Math.log(1 + (chunks - df + 0.5) / (df + 0.5));
}

/** The proximity part of BM25TP for one chunk. Pure. */
export function proximityScore(
  query: readonly WeightedTerm[],
  chunk: ProximityInput,
  stats: TermStats,
  p: Bm25Params,
): number {
  const weights = new Map(query.filter((t) => t.weight > 0).map((t) => [t.term, t.weight]));
  const idfOf = (t: string) => idf(stats.chunks, stats.df.get(t) ?? 0);
  const occurrences = [...chunk.positions]
    .filter(([term]) => weights.has(term))
    .flatMap(([term, ps]) => ps.map((pos) => ({ term, pos })))
    .sort((a, b) => a.pos - b.pos);
  const acc = new Map<string, number>();
  for (let i = 1; i < occurrences.length; i++) {
    const a = occurrences[i - 1]!;
    const b = occurrences[i]!;
    if (a.term === b.term || b.pos === a.pos) continue;
    const d2 = (b.pos - a.pos) ** 2;
    acc.set(a.term, (acc.get(a.term) ?? 0) + idfOf(b.term) / d2);
    acc.set(b.term, (acc.get(b.term) ?? 0) + idfOf(a.term) / d2);
  }
  const norm = p.k1 * (1 - p.b + (p.b * chunk.length) / Math.max(stats.avgLength, 1e-9));
  let score = 0;
  for (const [term, a] of acc) {
    score += (weights.get(term) ?? 0) * Math.min(1, idfOf(term)) * ((a * (p.k1 + 1)) / (a + norm));
  }
  return score;
}
