export interface Chunk {
  /** Position in the document, from 0. */
  index: number;
  text: string;
  /** Character offsets into the original text, for citations. */
  start: number;
  end: number;
}

/**
 * What chunk sizes count: characters, or a model's tokens given as the offsets where each token
 * starts in the text (ascending, from serving's `Tokenize`).
 */
export type ChunkUnit = { kind: "characters" } | { kind: "tokens"; starts: readonly number[] };

const CHARACTERS: ChunkUnit = { kind: "characters" };

/**
 * Splits text into chunks of at most `size` units (characters or tokens), preferring paragraph, then
 * sentence, then word boundaries, with about `overlap` units repeated between neighbours. A chunk
 * that must be cut inside a word is cut at a unit boundary (never inside a token). Pure; offsets
 * always point back into the input.
 */
export function chunkText(
  text: string,
  size: number,
  overlap: number,
  unit: ChunkUnit = CHARACTERS,
): Chunk[] {
  if (size < 1) throw new RangeError("size must be positive");
  const m = measure(text, unit);
  const step = Math.max(0, Math.min(overlap, Math.floor(size / 2)));
  const chunks: Chunk[] = [];
  let start = skipSpace(text, 0);
  while (start < text.length) {
    // At least up to the next offset past `start`, however many units share one.
    const sized = m.offset(m.index(start) + size);
    const limit = sized > start ? sized : m.after(start);
    const end = limit >= text.length ? text.length : breakPoint(text, start, limit);
    const slice = text.slice(start, end).trimEnd();
    if (slice.length > 0)
      chunks.push({ index: chunks.length, text: slice, start, end: start + slice.length });
    if (end >= text.length) break;
    const back = step > 0 ? wordStart(text, Math.max(start + 1, m.offset(m.index(end) - step))) : end;
    // The overlap starts at a word boundary inside this chunk; when a hard cut left none, none is repeated.
    start = skipSpace(text, back > start && back < end ? back : end);
  }
  return chunks;
}

/** Unit index ↔ character offset. */
interface Measure {
  /** The unit `pos` falls in: the last one starting at or before it. */
  index(pos: number): number;
  /** Where unit `i` starts; the text's end past the last one. */
  offset(i: number): number;
  /** The first unit offset past `pos` (the text's end when none is). */
  after(pos: number): number;
}

function measure(text: string, unit: ChunkUnit): Measure {
  if (unit.kind === "characters") {
    return {
      index: (pos) => pos,
      offset: (i) => notInsidePair(text, Math.min(Math.max(i, 0), text.length)),
      after: (pos) => notInsidePair(text, Math.min(pos + 1, text.length)),
    };
  }
  const starts = unit.starts;
  /** The first unit starting at or after `pos`. */
  const lowerBound = (pos: number) => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((starts[mid] ?? text.length) < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {
    index(pos) {
      // Units that share an offset (bytes of one character, a marker with no text) each count.
      const next = lowerBound(pos);
      if (next < starts.length && starts[next] === pos) return next;
      return Math.max(0, lowerBound(starts[next - 1] ?? 0));
    },
    offset: (i) => (i < 0 ? 0 : notInsidePair(text, Math.min(starts[i] ?? text.length, text.length))),
    after(pos) {
      const i = lowerBound(pos + 1);
      return notInsidePair(text, Math.min(starts[i] ?? text.length, text.length));
    },
  };
}

/** An offset between the two halves of a surrogate pair moves past the pair. */
function notInsidePair(text: string, at: number): number {
  const c = text.charCodeAt(at - 1);
  return at < text.length && c >= 0xd800 && c <= 0xdbff ? at + 1 : at;
}

const BOUNDARIES = [/\n\s*\n/g, /[.!?]["')\]]?\s/g, /\s/g];

function breakPoint(text: string, start: number, limit: number): number {
  // One character past the limit: every boundary ends in whitespace, which the chunk drops, so one
  // whose whitespace starts right at the limit still keeps the chunk within size.
  const window = text.slice(start, limit + 1);
  const half = (limit - start) / 2;
  for (const re of BOUNDARIES) {
    let last = -1;
    for (const m of window.matchAll(re)) {
      const at = (m.index ?? 0) + m[0].length;
      // Only break past the first half so chunks don't get tiny.
      if (at > half) last = at;
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
