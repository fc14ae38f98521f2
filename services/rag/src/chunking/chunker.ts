export interface Chunk {
  /** Position in the document, from 0. */
  index: number;
  text: string;
  /** Character offsets into the original text, for citations. */
  start: number;
  end: number;
}

/**
 * Splits text into chunks of at most `size` characters, preferring paragraph, then
 * sentence, then word boundaries, with about `overlap` characters repeated between
 * neighbours. Pure; offsets always point back into the input.
 */
export function chunkText(text: string, size: number, overlap: number): Chunk[] {
  if (size < 1) throw new RangeError("size must be positive");
  const step = Math.max(0, Math.min(overlap, Math.floor(size / 2)));
  const chunks: Chunk[] = [];
  let start = skipSpace(text, 0);
  while (start < text.length) {
    const end = start + size >= text.length ? text.length : breakPoint(text, start, start + size);
    const slice = text.slice(start, end).trimEnd();
    if (slice.length > 0)
      chunks.push({ index: chunks.length, text: slice, start, end: start + slice.length });
    if (end >= text.length) break;
    const back = step > 0 ? wordStart(text, Math.max(start + 1, end - step)) : end;
    // The overlap starts at a word boundary inside this chunk; when a hard cut left none, none is repeated.
    start = skipSpace(text, back > start && back < end ? back : end);
  }
  return chunks;
}

const BOUNDARIES = [/\n\s*\n/g, /[.!?]["')\]]?\s/g, /\s/g];

function breakPoint(text: string, start: number, limit: number): number {
  const window = text.slice(start, limit);
  for (const re of BOUNDARIES) {
    let last = -1;
    for (const m of window.matchAll(re)) {
      const at = (m.index ?? 0) + m[0].length;
      // Only break past the first half so chunks don't get tiny.
      if (at > window.length / 2) last = at;
    }
    if (last > 0) return start + last;
  }
  return limit;
}

function skipSpace(text: string, i: number): number {
  let j = i;
  while (j < text.length && /\s/.test(text[j] ?? "")) j++;
  return j;
}

function wordStart(text: string, i: number): number {
  let j = i;
  while (j < text.length && !/\s/.test(text[j - 1] ?? " ")) j++;
  return j;
}
