/**
 * Retrieval metrics with trec_eval's definitions, for one query: `ranking` is document ids best first
 * (no repeats), `judged` maps judged documents to gains (0 = not relevant). A document is relevant
 * when its gain is above 0; unjudged documents count as not relevant. All pure.
 */
export type Judgments = ReadonlyMap<string, number>;

const gain = (judged: Judgments, doc: string) => judged.get(doc) ?? 0;
const relevantCount = (judged: Judgments) => [...judged.values()].filter((g) => g > 0).length;

/**
 * nDCG@k (trec_eval `ndcg_cut.k`): DCG@k = Σ_{i ≤ k} gain_i / log2(i + 1) with linear gains,
 * divided by the DCG@k of the ideal ordering of all judged gains; 0 when nothing is relevant.
 */
export function ndcgAt(k: number, ranking: readonly string[], judged: Judgments): number {
  const dcg = (gains: number[]) => gains.slice(0, k).reduce((s, g, i) => s + g / Math.log2(i + 2), 0);
  const ideal = dcg([...judged.values()].filter((g) => g > 0).sort((a, b) => b - a));
  return ideal === 0 ? 0 : dcg(ranking.map((d) => gain(judged, d))) / ideal;
}

/**
 * Average precision (trec_eval `map`): the mean, over all R relevant documents, of the precision at
 * the rank where each is retrieved (0 for those never retrieved).
 */
export function averagePrecision(ranking: readonly string[], judged: Judgments): number {
  const r = relevantCount(judged);
  if (r === 0) return 0;
  let hits = 0;
  let sum = 0;
  for (const [i, d] of ranking.entries()) {
    if (gain(judged, d) > 0) {
      hits += 1;
      sum += hits / (i + 1);
    }
  }
  return sum / r;
}

/** Recall@k (trec_eval `recall.k`): relevant documents in the top k over all R relevant ones. */
export function recallAt(k: number, ranking: readonly string[], judged: Judgments): number {
  const r = relevantCount(judged);
  if (r === 0) return 0;
  return ranking.slice(0, k).filter((d) => gain(judged, d) > 0).length / r;
}

export interface Scores {
  ndcg10: number;
  map: number;
  recall100: number;
}

/** Means over queries (trec_eval averages over queries with at least one relevant document). */
export function meanScores(perQuery: Scores[]): Scores {
  const n = perQuery.length || 1;
  const sum = (f: (s: Scores) => number) => perQuery.reduce((s, q) => s + f(q), 0) / n;
  return { ndcg10: sum((s) => s.ndcg10), map: sum((s) => s.map), recall100: sum((s) => s.recall100) };
}

export function scoreQuery(ranking: readonly string[], judged: Judgments): Scores {
  return {
    ndcg10: ndcgAt(10, ranking, judged),
    map: averagePrecision(ranking, judged),
    recall100: recallAt(100, ranking, judged),
  };
}

/** Documents best first from chunks best first: a document ranks by its best chunk. */
export function documentRanking(chunkDocIds: readonly string[], depth: number): string[] {
  const seen = new Set<string>();
  for (const d of chunkDocIds) {
    if (seen.size >= depth) break;
    seen.add(d);
  }
  return [...seen];
}
