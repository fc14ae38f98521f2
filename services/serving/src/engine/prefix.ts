/** Tokens two sequences share from the start. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Index of the free sequence to run `prompt` on: the one whose evaluated tokens share the longest
 * prefix with it (that much is not evaluated again); among equals, the least recently used, so the
 * prefixes of recent conversations survive longest.
 */
export function pickSequence(
  free: readonly { tokens: readonly number[]; lastUsed: number }[],
  prompt: readonly number[],
): number {
  let best = -1;
  let bestShared = -1;
  for (let i = 0; i < free.length; i++) {
    const s = free[i];
    if (!s) continue;
    const shared = commonPrefixLength(s.tokens, prompt);
    if (shared > bestShared || (shared === bestShared && s.lastUsed < (free[best]?.lastUsed ?? Infinity))) {
      best = i;
      bestShared = shared;
    }
  }
  return best;
}
