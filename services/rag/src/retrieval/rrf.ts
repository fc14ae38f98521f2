/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) with a weight per list:
 *
 *   score(d) = Σ_lists w_list / (k + rank_list(d))        rank from 1; lists without d add nothing
 *
 * k = 60 is the paper's value. Only ranks matter, so lists with incomparable scores (BM25, cosine)
 * fuse without calibration. An item repeated within one list counts at its best rank.
 */
export interface RankedList<T> {
  /** Best first. */
  items: readonly T[];
  weight: number;
}

export interface Fused<T> {
  item: T;
  score: number;
}

export const RRF_K = 60;

/** Pure. Ties go to the item with the better best rank, then to the smaller key. */
export function reciprocalRankFusion<T>(
  lists: readonly RankedList<T>[],
  key: (item: T) => string,
  k = RRF_K,
): Fused<T>[] {
  if (!(k > 0)) throw new RangeError("k must be positive");
  const acc = new Map<string, { item: T; score: number; bestRank: number }>();
  for (const list of lists) {
    if (!(list.weight >= 0)) throw new RangeError("list weights must be non-negative");
    const seen = new Set<string>();
    for (const [i, item] of list.items.entries()) {
      const id = key(item);
      if (seen.has(id)) continue;
      seen.add(id);
      const entry = acc.get(id) ?? { item, score: 0, bestRank: i + 1 };
      entry.score += list.weight / (k + i + 1);
      entry.bestRank = Math.min(entry.bestRank, i + 1);
      acc.set(id, entry);
    }
  }
  return [...acc.entries()]
    .sort(
      ([ka, a], [kb, b]) => b.score - a.score || a.bestRank - b.bestRank || (ka < kb ? -1 : ka > kb ? 1 : 0),
    )
    .map(([, e]) => ({ item: e.item, score: e.score }));
}
