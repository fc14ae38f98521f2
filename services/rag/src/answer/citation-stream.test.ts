import fc from "fast-check";
import { CitationStream } from "./citation-stream.js";
import { checkCitations } from "./citations.js";

function streamed(parts: string[], count: number) {
  const s = new CitationStream(count);
  const out = parts.map((p) => s.push(p)).join("") + s.end();
  return { text: out, cited: s.cited, invalid: s.invalid };
}

describe("citations checked while an answer streams", () => {
  test("keeps retrieved citations, drops others, holds back a split citation until it completes", () => {
    const s = new CitationStream(2);
    expect(s.push("Lift grows [")).toBe("Lift grows ");
    expect(s.push("1")).toBe("");
    expect(s.push("] with angle [7] and [2")).toBe("[1] with angle  and ");
    expect(s.push("].")).toBe("[2].");
    expect(s.end()).toBe("");
    expect([s.cited, s.invalid]).toEqual([[1, 2], [7]]);
  });

  test("brackets that are not citations pass through, an unfinished one at the end too", () => {
    expect(streamed(["a [b] [[1", "] [12345] [", "3"], 3)).toEqual({
      text: "a [b] [[1] [12345] [3",
      cited: [1],
      invalid: [],
    });
  });

  test("equals the whole-answer check however the answer is split", () => {
    const piece = fc.oneof(
      fc.constantFrom("[", "]", "[1]", "[2]", "[9]", "[12", "0]", "[[", "x", " ", "1", "[0]", "[10000]"),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 0, max: 12 }),
        (pieces, cuts, count) => {
          const answer = pieces.join("");
          const points = [...new Set(cuts.map((c) => c % (answer.length + 1)))].sort((a, b) => a - b);
          const parts = [0, ...points, answer.length]
            .slice(1)
            .map((end, i, all) => answer.slice(i === 0 ? 0 : all[i - 1], end));
          const whole = checkCitations(answer, count);
          expect(streamed(parts, count)).toEqual(whole);
        },
      ),
      { numRuns: 500 },
    );
  });
});
