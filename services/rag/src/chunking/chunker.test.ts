import fc from "fast-check";
import { chunkText } from "./chunker.js";

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
});
