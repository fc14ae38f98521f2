import { describe, expect, test } from "@jest/globals";
import { bm25Idf, chunkSparseVector, querySparseVector, termIndex } from "./sparse.js";

describe("termIndex", () => {
  test.each([
    ["", 0x811c9dc5],
    ["a", 0xe40c292c],
    ["foobar", 0xbf9cf968],
  ])("is 32-bit FNV-1a of the UTF-8 bytes (%j)", (term, expected) => {
    expect(termIndex(term)).toBe(expected);
  });

  test("is an unsigned 32-bit integer, different for different lexemes", () => {
    const ids = ["boundari", "layer", "réseau", "東京"].map(termIndex);
    for (const id of ids) expect(Number.isInteger(id) && id >= 0 && id <= 0xffffffff).toBe(true);
    expect(new Set(ids).size).toBe(4);
  });
});

describe("chunkSparseVector", () => {
  test("holds BM25's saturated, length-normalized term frequency per lexeme", () => {
    const counts = new Map([
      ["fox", 2],
      ["dog", 1],
    ]);
    // dl = 3, avgdl = 6, k1 = 1.2, b = 0.75: norm = 1.2 · (0.25 + 0.75 · 0.5) = 0.75.
    const v = chunkSparseVector(counts, 6);
    const value = (t: string) => v.values[v.indices.indexOf(termIndex(t))];
    expect(value("fox")).toBeCloseTo((2 * 2.2) / (2 + 0.75), 12);
    expect(value("dog")).toBeCloseTo(2.2 / (1 + 0.75), 12);
  });

  test("indices are unique and ascending, with one value each", () => {
    const v = chunkSparseVector(new Map(["c", "a", "b", "d"].map((t) => [t, 1])), 4);
    expect(v.indices).toEqual([...v.indices].sort((a, b) => a - b));
    expect(new Set(v.indices).size).toBe(4);
    expect(v.values).toHaveLength(4);
  });

  test("a chunk of average length with b = 0 and k1 = 0 is plain presence", () => {
    const v = chunkSparseVector(new Map([["x", 3]]), 3, { k1: 0, b: 0 });
    expect(v.values).toEqual([1]);
  });

  test("an empty chunk has an empty vector; a missing mean counts the chunk as average", () => {
    expect(chunkSparseVector(new Map(), 5)).toEqual({ indices: [], values: [] });
    const v = chunkSparseVector(new Map([["x", 1]]), 0);
    expect(v.values[0]).toBeCloseTo(2.2 / (1 + 1.2), 12);
  });
});

describe("querySparseVector", () => {
  test("carries each lexeme's weight and drops non-positive ones", () => {
    const v = querySparseVector([
      { term: "fox", weight: 2 },
      { term: "dog", weight: 0.25 },
      { term: "cat", weight: 0 },
    ]);
    expect(v.indices).toEqual([termIndex("fox"), termIndex("dog")].sort((a, b) => a - b));
    expect(v.values[v.indices.indexOf(termIndex("dog"))]).toBe(0.25);
  });

  test("a repeated lexeme adds up in one dimension", () => {
    const v = querySparseVector([
      { term: "fox", weight: 1 },
      { term: "fox", weight: 0.5 },
    ]);
    expect(v).toEqual({ indices: [termIndex("fox")], values: [1.5] });
  });
});

describe("querySparseVector with the collection's frequencies", () => {
  test("multiplies each weight by the lexeme's IDF in the collection and drops lexemes in no chunk", () => {
    const freq = {
      chunks: 10,
      df: new Map([
        ["fox", 2],
        ["dog", 9],
      ]),
    };
    const v = querySparseVector(
      [
        { term: "fox", weight: 2 },
        { term: "dog", weight: 1 },
        { term: "cat", weight: 1 },
      ],
      freq,
    );
    const value = (t: string) => v.values[v.indices.indexOf(termIndex(t))];
    expect(v.indices).toHaveLength(2);
    expect(value("fox")).toBeCloseTo(2 * Math.log(1 + 8.5 / 2.5), 12);
    expect(value("dog")).toBeCloseTo(bm25Idf(10, 9), 12);
    expect(bm25Idf(10, 9)).toBeCloseTo(Math.log(1 + 1.5 / 9.5), 12);
  });
});
