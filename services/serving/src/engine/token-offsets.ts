/** How far past the previous token a piece's text may be found (text the tokenizer could not map back). */
const MAX_GAP = 16;

/**
 * Where each token starts in `text`, given each token's text as the tokenizer renders it alone
 * (`pieces`, in order). Pure. Pieces are matched left to right: a piece's leading whitespace (the
 * word-start marker of SentencePiece and byte-level BPE vocabularies) is optional, and a piece that
 * cannot be found nearby (a byte of a multi-byte character, text the tokenizer normalized) starts
 * where the previous token ended, so offsets never decrease and never pass the text's end.
 */
export function tokenStarts(text: string, pieces: readonly string[]): number[] {
  const starts: number[] = [];
  let cursor = 0;
  for (const piece of pieces) {
    starts.push(cursor);
    const core = piece.replace(/^\s+/, "");
    if (core.length === 0) {
      // A whitespace token covers the whitespace it stands for, when that is what comes next.
      if (piece.length > 0 && text.startsWith(piece, cursor)) cursor += piece.length;
      continue;
    }
    if (core.includes("\uFFFD")) continue;
    const found = text.indexOf(core, cursor);
    if (found >= 0 && found - cursor <= MAX_GAP) cursor = found + core.length;
  }
  return starts;
}
