import fc from "fast-check";
import { type ChunkUnit, chunkText } from "./chunker.js";

describe("chunkText", () => {
  it("keeps short text as one chunk", () => {
    expect(chunkText("Hello world.", 100, 10)).toEqual([
      { index: 0, text: "Hello world.", start: 0, end: 12 },
    ]);
  });

  it("returns no chunks for blank text", () => {
    expect(chunkText("  \n\n ", 100, 10)).toEqual([]);
  });

  it("prefers paragraph boundaries", () => {
    const text = `${"a".repeat(60)}.\n\n${"b".repeat(60)}.`;
    const chunks = chunkText(text, 100, 0);
    expect(chunks.map((c) => c.text)).toEqual([`${"a".repeat(60)}.`, `${"b".repeat(60)}.`]);
  });

  it("repeats about `overlap` characters between neighbours", () => {
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ");
    const chunks = chunkText(words, 100, 30);
    for (let i = 1; i < chunks.length; i++) {
      const prev = chunks[i - 1]!;
      const cur = chunks[i]!;
      expect(cur.start).toBeLessThan(prev.end);
      expect(prev.end - cur.start).toBeLessThanOrEqual(31);
    }
  });

  it("keeps the rest of a word cut at the size limit", () => {
    expect(chunkText("aaaaaaaaa", 8, 1).map((c) => c.text)).toEqual(["aaaaaaaa", "a"]);
  });

  it("property: chunks are bounded, ordered, point into the text and cover every word", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "b", " ", ".", "\n", "é"), maxLength: 600 }),
        fc.integer({ min: 8, max: 120 }),
        fc.integer({ min: 0, max: 60 }),
        (text, size, overlap) => {
          const chunks = chunkText(text, size, overlap);
          let covered = 0;
          for (const [i, c] of chunks.entries()) {
            expect(c.index).toBe(i);
            expect(c.text.length).toBeLessThanOrEqual(size);
            expect(text.slice(c.start, c.end)).toBe(c.text);
            if (i > 0) expect(c.start).toBeGreaterThan(chunks[i - 1]!.start);
            covered = Math.max(covered, c.end);
          }
          expect(text.slice(covered).trim()).toBe("");
        },
      ),
    );
  });

  describe("by tokens", () => {
    /** Tokens of one word each, with the space before it, as word-piece tokenizers count. */
    const wordTokens = (text: string): ChunkUnit => ({
      kind: "tokens",
      starts: [...text.matchAll(/\s*\S+/g)].map((m) => m.index ?? 0),
    });

    it("counts size and overlap in tokens, not characters", () => {
      const text = Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ");
      const chunks = chunkText(text, 10, 2, wordTokens(text));
      expect(chunks[0]?.text).toBe(Array.from({ length: 10 }, (_, i) => `word${i}`).join(" "));
      expect(chunks[1]?.text.startsWith("word8 word9 word10")).toBe(true);
      expect(chunkText(text, 10, 2).every((c) => c.text.length <= 10)).toBe(true);
    });

    it("never cuts inside a token when a word is longer than the chunk", () => {
      const text = "abcdefghij";
      const unit: ChunkUnit = { kind: "tokens", starts: [0, 3, 6, 9] };
      expect(chunkText(text, 2, 0, unit).map((c) => c.text)).toEqual(["abcdef", "ghij"]);
    });

    it("moves on when several tokens share one offset (bytes of one character)", () => {
      const text = "é é é";
      const unit: ChunkUnit = { kind: "tokens", starts: [0, 0, 1, 2, 2, 3, 4, 4] };
      const chunks = chunkText(text, 1, 0, unit);
      expect(chunks.map((c) => c.text).join(" ")).toBe(text);
    });

    it("counts tokens that share an offset one by one", () => {
      const text = "é é é é";
      // Two byte tokens for each é, the second at the same offset, and a space token.
      const unit: ChunkUnit = { kind: "tokens", starts: [0, 0, 1, 2, 2, 3, 4, 4, 5, 6, 6] };
      expect(chunkText(text, 3, 0, unit).map((c) => c.text)).toEqual(["é", "é", "é", "é"]);
    });

    it("never cuts between the halves of a surrogate pair, by tokens or characters", () => {
      expect(chunkText("😀😀😀😀", 3, 0).map((c) => c.text)).toEqual(["😀😀", "😀😀"]);
      const text = "😀😀😀😀 😀😀";
      // Byte tokens of each emoji, offsets as a decoder gives them: the last byte completes the pair.
      const starts = [...text].flatMap((ch, i) => {
        const at = [...text].slice(0, i).join("").length;
        return ch === " " ? [at] : [at, at + 1, at + 1, at + 1];
      });
      for (const size of [1, 2, 3, 5]) {
        for (const c of chunkText(text, size, 1, { kind: "tokens", starts })) {
          expect(c.text).not.toMatch(
            /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/,
          );
        }
      }
    });

    it("property: at most `size` tokens a chunk (tokens sharing an offset count), ordered, covering every word", () => {
      fc.assert(
        fc.property(
          fc.string({ unit: fc.constantFrom("a", "b", " ", ".", "\n", "é"), maxLength: 400 }),
          fc.array(fc.nat(), { maxLength: 160 }),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 0, max: 20 }),
          (text, cuts, size, overlap) => {
            const starts = [0, ...cuts.map((c) => c % Math.max(1, text.length))].sort((a, b) => a - b);
            const end = (i: number) => starts.find((s, j) => j > i && s > (starts[i] ?? 0)) ?? text.length;
            // A token is in a chunk when its text overlaps it, or (no text of its own) it sits inside it.
            const tokensIn = (a: number, b: number) =>
              starts.filter((s, i) => (s < b && end(i) > a) || (s >= a && s < b)).length;
            const chunks = chunkText(text, size, overlap, { kind: "tokens", starts });
            let covered = 0;
            for (const [i, c] of chunks.entries()) {
              expect(c.index).toBe(i);
              // Tokens that begin before the chunk and run into it straddle its start, and tokens at one
              // offset cannot be split: a chunk holds at least all of those.
              const straddling = starts.filter((x, j) => x < c.start && end(j) > c.start).length;
              const shared = Math.max(
                ...starts
                  .filter((x) => x >= c.start && x < c.end)
                  .map((x) => starts.filter((y) => y === x).length),
                0,
              );
              expect(tokensIn(c.start, c.end)).toBeLessThanOrEqual(Math.max(size, shared) + straddling);
              expect(text.slice(c.start, c.end)).toBe(c.text);
              if (i > 0) expect(c.start).toBeGreaterThan(chunks[i - 1]!.start);
              covered = Math.max(covered, c.end);
            }
            expect(text.slice(covered).trim()).toBe("");
          },
        ),
      );
    });
  });
});
