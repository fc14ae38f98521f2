/** A whole-unit count from a Kubernetes quantity such as 4, "4" or "4000m"; extended resources are whole. */
export function toCount(q: string | number | undefined): number {
  if (q === undefined) return 0;
  if (typeof q === "number") return q;
  const m = /^\+?([0-9.]+)(m|k|Ki|M|Mi|G|Gi)?$/.exec(q);
  if (!m) return 0;
  const n = Number(m[1]);
  const scale: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    Ki: 1024,
    M: 1e6,
    Mi: 2 ** 20,
    G: 1e9,
    Gi: 2 ** 30,
  };
  return m[2] ? n * (scale[m[2]] ?? 1) : n;
}
