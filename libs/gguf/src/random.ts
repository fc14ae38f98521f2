// Module-level bindings keep the hot loops fast where global lookups are slow (vm contexts, e.g. jest).
const { PI, cos, imul, log, sin, sqrt } = Math;

/** mulberry32: a small, fast 32-bit PRNG returning uniforms in [0, 1). Fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = imul(state ^ (state >>> 15), 1 | state);
    t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over UTF-16 code units; mixes tensor names into per-tensor seeds. */
export function hashString(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Fills `out` with normal samples (Box-Muller, two per pair of uniforms) of the given deviation. */
export function fillGaussian(out: Float32Array, random: () => number, deviation: number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const radius = sqrt(-2 * log(1 - random())) * deviation;
    const angle = 2 * PI * random();
    out[i] = radius * cos(angle);
    if (i + 1 < out.length) out[i + 1] = radius * sin(angle);
  }
  return out;
}
