/** Scales a vector to unit length so cosine similarity is a dot product. A zero vector stays zero. */
export function l2Normalize(v: ArrayLike<number>): number[] {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += (v[i] ?? 0) ** 2;
  const norm = Math.sqrt(sum);
  return Array.from(v, (x) => (norm > 0 ? x / norm : 0));
}
