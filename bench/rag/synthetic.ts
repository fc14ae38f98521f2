/**
 * Filler documents for latency at scale: words drawn from a unigram model of `source` (so the
 * vocabulary and its skew are those of real text and real queries hit real postings lists), with a
 * seeded generator, so every run indexes the same collection. Pure.
 */
export function syntheticDocuments(
  count: number,
  source: readonly string[],
  opts: { words?: number; seed?: number } = {},
): { id: string; text: string; metadata: { synthetic: true } }[] {
  const pool = source.flatMap((t) =>
    t
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((w) => w.length > 0),
  );
  if (pool.length === 0) throw new RangeError("source has no words");
  const next = mulberry32(opts.seed ?? 1);
  const words = opts.words ?? 120;
  return Array.from({ length: count }, (_, i) => ({
    id: `s${i}`,
    text: Array.from({ length: words }, () => pool[Math.floor(next() * pool.length)]).join(" "),
    metadata: { synthetic: true as const },
  }));
}

/** A small seeded PRNG (Tommy Ettinger's mulberry32): uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
