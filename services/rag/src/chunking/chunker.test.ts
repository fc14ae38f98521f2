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

    it("property: at most `size` tokens a chunk, ordered, pointing into the text, covering every word", () => {
      fc.assert(
        fc.property(
          fc.string({ unit: fc.constantFrom("a", "b", " ", ".", "\n", "é"), maxLength: 400 }),
          fc.array(fc.nat(), { maxLength: 120 }),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 0, max: 20 }),
          (text, cuts, size, overlap) => {
            const starts = [...new Set([0, ...cuts.map((c) => c % Math.max(1, text.length))])].sort(
              (a, b) => a - b,
            );
            const tokensIn = (a: number, b: number) =>
              starts.filter((s, i) => s < b && (starts[i + 1] ?? text.length) > a).length;
            const chunks = chunkText(text, size, overlap, { kind: "tokens", starts });
            let covered = 0;
            for (const [i, c] of chunks.entries()) {
              expect(c.index).toBe(i);
              expect(tokensIn(c.start, c.end)).toBeLessThanOrEqual(size);
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
