import fc from "fast-check";
import { alignStarts, decodedStarts } from "./token-offsets.js";

const encoder = new TextEncoder();

/** A byte-level tokenizer: the text's UTF-8 bytes cut at `cuts`, decoded like llama.cpp (U+FFFD for a partial character). */
function byteTokens(text: string, cuts: number[]) {
  const bytes = encoder.encode(text);
  const bounds = [...new Set([0, ...cuts.map((c) => c % Math.max(1, bytes.length))])].sort((a, b) => a - b);
  const tokens = bounds.map((b, i) => bytes.slice(b, bounds[i + 1] ?? bytes.length));
  const render = (a: number, b: number) => {
    const joined = new Uint8Array(tokens.slice(a, b).reduce((n, t) => n + t.length, 0));
    let at = 0;
    for (const t of tokens.slice(a, b)) {
      joined.set(t, at);
      at += t.length;
    }
    return new TextDecoder().decode(joined);
  };
  return { tokens, bounds, render };
}

/** The UTF-16 offset of the character that starts at each UTF-8 byte offset that starts one. */
function charStarts(text: string): Map<number, number> {
  const m = new Map<number, number>();
  let byte = 0;
  let unit = 0;
  for (const ch of text) {
    m.set(byte, unit);
    byte += encoder.encode(ch).length;
    unit += ch.length;
  }
  return m;
}

describe("decodedStarts", () => {
  it("gives each whole-word token the offset of its text", () => {
    const pieces = ["Once", " upon", " a", " time"];
    const render = (a: number, b: number) => pieces.slice(a, b).join("");
    expect(decodedStarts(render, 0, 4, 0)).toEqual({ starts: [0, 4, 9, 11], pos: 16 });
  });

  it("continues from a slice's end: two slices give what one does", () => {
    const pieces = ["a", "b", "cd", "e", "fg", "h"];
    const render = (a: number, b: number) => pieces.slice(a, b).join("");
    const first = decodedStarts(render, 0, 3, 0);
    const second = decodedStarts(render, 3, 6, first.pos);
    expect([...first.starts, ...second.starts]).toEqual(decodedStarts(render, 0, 6, 0).starts);
  });

  it("keeps counting after many characters split into bytes (emoji, CJK)", () => {
    const text = `${"😀".repeat(10)}${"中文".repeat(20)} and then plain words`;
    const bytes = encoder.encode(text).length;
    const { render, bounds } = byteTokens(
      text,
      Array.from({ length: bytes }, (_, i) => i),
    );
    const { starts, pos } = decodedStarts(render, 0, bounds.length, 0);
    expect(pos).toBe(text.length);
    expect(starts.at(-1)).toBe(text.length - 1);
  });

  it("property: byte-level tokens of any text: ascending, ending at the text's length, exact at character starts", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "b", " ", "\n", "é", "中", "😀"), maxLength: 120 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        (text, cuts) => {
          const { render, bounds } = byteTokens(text, cuts);
          const { starts, pos } = decodedStarts(render, 0, bounds.length, 0);
          expect(pos).toBe(text.length);
          const at = charStarts(text);
          for (const [i, s] of starts.entries()) {
            if (i > 0) expect(s).toBeGreaterThanOrEqual(starts[i - 1] ?? 0);
            const exact = at.get(bounds[i] ?? 0);
            if (exact !== undefined && text.length > 0) expect(s).toBe(exact);
          }
        },
      ),
    );
  });
});

describe("alignStarts", () => {
  it("leaves offsets alone when the decoded text is as long as the input", () => {
    expect(alignStarts([0, 2, 5], 9, 9)).toEqual([0, 2, 5]);
  });

  it("scales offsets onto an input of another length, ascending and inside it", () => {
    expect(alignStarts([0, 4, 8, 12], 12, 6)).toEqual([0, 2, 4, 6]);
    expect(alignStarts([0, 0, 1], 0, 5)).toEqual([0, 0, 0]);
  });
});
