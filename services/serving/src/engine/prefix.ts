/** Tokens two sequences share from the start. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Index of the free sequence to run `prompt` on (-1 when none is free). Reusing a sequence's tokens
 * saves evaluating them again, but a sequence holding tokens the prompt does not continue must have
 * them erased first, and node-llama-cpp erases only between batches: under continuous load that wait
 * can last until the other sequences pause. So, when others are decoding (`busy`), in order:
 * 1. the sequence whose tokens the prompt extends (nothing to erase), the longest such;
 * 2. an empty sequence;
 * 3. the sequence sharing the longest prefix with the prompt (the rest is erased);
 * among equals the least recently used, so the prefixes of recent conversations survive longest.
 * When nothing else decodes, only 3 applies, and an empty sequence goes before a used one that shares as
 * little, so that empty sequences are left for busy times.
 */
export function pickSequence(
  free: readonly { tokens: readonly number[]; lastUsed: number }[],
  prompt: readonly number[],
  opts: { busy: boolean } = { busy: true },
): number {
  let best = -1;
  let bestKey: number[] = [];
  free.forEach((s, i) => {
    const key = preference(s, prompt, opts.busy);
    if (best < 0 || isGreater(key, bestKey)) {
      best = i;
      bestKey = key;
    }
  });
  return best;
}

/**
 * Compared in order, larger first. Busy: [class (extends 2, empty 1, else 0), shared, -lastUsed].
 * Idle: [shared, empty, -lastUsed] — an erase is immediate, so the longest shared prefix wins, and
 * among equals an empty sequence is taken before a used one, keeping empty ones for busy times.
 */
function preference(
  s: { tokens: readonly number[]; lastUsed: number },
  prompt: readonly number[],
  busy: boolean,
): number[] {
  const shared = commonPrefixLength(s.tokens, prompt);
  const empty = s.tokens.length === 0 ? 1 : 0;
  if (!busy) return [shared, empty, -s.lastUsed];
  // The last prompt token is always evaluated (its logits start generation), so a sequence holding
  // the whole prompt still needs one token erased.
  const extendsIt = !empty && shared === s.tokens.length && shared < prompt.length;
  return [extendsIt ? 2 : empty, shared, -s.lastUsed];
}

function isGreater(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return false;
}
