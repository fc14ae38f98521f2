/**
 * How much the default mode trusts a collection's embedding model, measured on the collection
 * itself, with no judgments: known-item search. A sample of chunks each gives a pseudo-query (a
 * run of words from its middle); lexical and dense search each rank the collection for it, and the
 * reciprocal rank of the source chunk is averaged (MRR@depth) per list.
 *
 * Exact words favour lexical search, so the measure is conservative for dense: the dense list gets
 * weight only when it finds known items nearly as well as lexical does,
 *
 *   w_dense = clamp((MRR'_dense / MRR'_lexical − floor) / (1 − floor), 0, 1)
 *
 * where MRR' = (MRR − chance) / (1 − chance) discounts what a random ranking of the collection's N
 * chunks would score (chance = Σ_{r ≤ min(depth, N)} 1/r / N), and a collection smaller than
 * `minChunks` keeps weight 0 (too few chunks to tell a model from noise),
 * so an embedding model that ranks like noise (a random tiny model) gets weight 0 and the default
 * mode is then exactly lexical, while a model on a par with lexical gets full weight in the fusion.
 */
export interface CalibrationParams {
  /** Chunks sampled. */
  samples: number;
  /** Words in each pseudo-query. */
  queryWords: number;
  /** Ranks searched for the source chunk. */
  depth: number;
  /** The MRR ratio below which dense gets no weight. */
  floor: number;
  /** Recalibrate once the collection has grown (or shrunk) by this factor since the last time. */
  growth: number;
  /** Below this many chunks the dense list gets no weight. */
  minChunks: number;
}

export const CALIBRATION_DEFAULTS: CalibrationParams = {
  samples: 40,
  queryWords: 8,
  depth: 10,
  floor: 0.5,
  growth: 2,
  minChunks: 20,
};

/** Expected reciprocal rank (cut at `depth`) of one item placed at random among `n`. Pure. */
export function chanceMrr(n: number, depth: number): number {
  if (n <= 0) return 0;
  let sum = 0;
  for (let r = 1; r <= Math.min(depth, n); r++) sum += 1 / r;
  return sum / n;
}

/** The middle `words` words of a text (all of it when shorter): a pseudo-query. Pure. */
export function pseudoQuery(text: string, words: number): string {
  const all = text.split(/\s+/).filter((w) => w.length > 0);
  if (all.length <= words) return all.join(" ");
  const start = Math.floor((all.length - words) / 2);
  return all.slice(start, start + words).join(" ");
}

/** Mean reciprocal rank of the wanted id in each ranking (0 when absent). Pure. */
export function meanReciprocalRank(
  rankings: readonly (readonly string[])[],
  wanted: readonly string[],
): number {
  if (rankings.length === 0) return 0;
  let sum = 0;
  for (const [i, ranking] of rankings.entries()) {
    const at = ranking.indexOf(wanted[i] ?? "");
    if (at >= 0) sum += 1 / (at + 1);
  }
  return sum / rankings.length;
}

/** The dense weight from the two MRRs and the chance level (see above). Pure. */
export function denseWeight(
  mrr: { lexical: number; dense: number; chance: number },
  floor = CALIBRATION_DEFAULTS.floor,
): number {
  const lift = (m: number) => (mrr.chance < 1 ? Math.max(0, (m - mrr.chance) / (1 - mrr.chance)) : 0);
  const [lexical, dense] = [lift(mrr.lexical), lift(mrr.dense)];
  if (!(lexical > 0)) return dense > 0 ? 1 : 0;
  const ratio = dense / lexical;
  return Math.min(1, Math.max(0, (ratio - floor) / (1 - floor)));
}

/** Whether a weight measured at `calibratedChunks` chunks is stale at `chunks`. Pure. */
export function needsCalibration(
  calibratedChunks: number,
  chunks: number,
  growth = CALIBRATION_DEFAULTS.growth,
): boolean {
  if (chunks === 0) return false;
  if (calibratedChunks === 0) return true;
  return chunks >= calibratedChunks * growth || chunks * growth <= calibratedChunks;
}
