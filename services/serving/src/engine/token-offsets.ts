/**
 * How many tokens before a token are rendered with it: enough for the longest UTF-8 sequence (4 bytes)
 * split one byte a token, so a character's bytes are always decoded together.
 */
export const RENDER_WINDOW = 4;

/**
 * Where tokens `from` to `to` start in the text the tokens decode to, continuing from `pos` (where
 * token `from` starts). `render(a, b)` is the text of tokens a..b−1 decoded together. Each token
 * adds what the text grows by when it is rendered after the RENDER_WINDOW tokens before it: bytes of
 * one character add nothing until the character is complete, and a word-start marker adds its space
 * only where the decoder keeps it. Pure; `pos` never decreases.
 */
export function decodedStarts(
  render: (a: number, b: number) => string,
  from: number,
  to: number,
  pos: number,
): { starts: number[]; pos: number } {
  const starts: number[] = [];
  let at = pos;
  let exact = pos;
  for (let i = from; i < to; i++) {
    starts.push(at);
    const first = Math.max(0, i - RENDER_WINDOW);
    const before = i > first ? render(first, i).length : 0;
    exact += render(first, i + 1).length - before;
    at = Math.max(at, exact);
  }
  return { starts, pos: at };
}

/**
 * Token starts in the decoded text moved onto the input text: unchanged when the two have the same
 * length (the usual case), scaled otherwise (a tokenizer that normalizes text), so offsets stay
 * ascending and inside the input whatever the tokenizer did.
 */
export function alignStarts(starts: readonly number[], decodedLength: number, textLength: number): number[] {
  if (decodedLength === textLength) return starts.map((s) => Math.min(s, textLength));
  const scale = decodedLength > 0 ? textLength / decodedLength : 0;
  let last = 0;
  return starts.map((s) => {
    last = Math.max(last, Math.min(textLength, Math.round(s * scale)));
    return last;
  });
}
