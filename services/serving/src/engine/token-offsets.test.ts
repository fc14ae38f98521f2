import fc from "fast-check";
import { tokenStarts } from "./token-offsets.js";

/** Cuts text at the given positions into consecutive pieces. */
function cut(text: string, positions: number[]): { pieces: string[]; starts: number[] } {
  const starts = [...new Set([0, ...positions.map((p) => p % Math.max(1, text.length))])].sort(
    (a, b) => a - b,
  );
  const pieces = starts.map((s, i) => text.slice(s, starts[i + 1] ?? text.length));
  return { pieces, starts };
}

describe("tokenStarts", () => {
  it("maps pieces that carry their leading space to the space before the word", () => {
    expect(tokenStarts("Once upon a time", ["Once", " upon", " a", " time"])).toEqual([0, 4, 9, 11]);
  });

  it("accepts pieces rendered without the leading space of their word", () => {
    expect(tokenStarts("the wing  tip", ["the", "wing", "tip"])).toEqual([0, 3, 8]);
  });

  it("starts an unmatched piece (a byte of a multi-byte character) where the last token ended", () => {
    expect(tokenStarts("a é b", ["a", " \uFFFD", "\uFFFD", " b"])).toEqual([0, 1, 1, 1]);
  });

  it("counts a whitespace token over the whitespace it stands for", () => {
    expect(tokenStarts("a\n\nb", ["a", "\n\n", "b"])).toEqual([0, 1, 3]);
  });

  it("property: pieces that are consecutive slices of the text give back the cut positions", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (text, positions) => {
          const { pieces, starts } = cut(text, positions);
          const got = tokenStarts(text, pieces);
          // A slice made only of whitespace followed by text it also matches may be mapped one token
          // earlier or later; every other slice maps exactly.
          if (pieces.every((p) => p.trim().length > 0 && p === p.trimStart())) expect(got).toEqual(starts);
          expect(got).toHaveLength(pieces.length);
        },
      ),
    );
  });

  it("property: offsets never decrease and stay inside the text, whatever the pieces", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 100 }),
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 50 }),
        (text, pieces) => {
          const got = tokenStarts(text, pieces);
          expect(got).toHaveLength(pieces.length);
          for (let i = 0; i < got.length; i++) {
            expect(got[i]).toBeGreaterThanOrEqual(i === 0 ? 0 : (got[i - 1] ?? 0));
            expect(got[i]).toBeLessThanOrEqual(text.length);
          }
        },
      ),
    );
  });
});
