import { describe, expect, test } from "@jest/globals";
import { reciprocalRankFusion } from "./rrf.js";

const id = (s: string) => s;

describe("reciprocalRankFusion", () => {
  test("sums weighted reciprocal ranks across lists", () => {
    const fused = reciprocalRankFusion(
      [
        { items: ["a", "b", "c"], weight: 1 },
        { items: ["c", "a"], weight: 1 },
      ],
      id,
      60,
    );
    expect(fused.map((f) => f.item)).toEqual(["a", "c", "b"]);
    expect(fused[0]?.score).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(fused[1]?.score).toBeCloseTo(1 / 63 + 1 / 61, 12);
  });

  test("a zero weight leaves the other list's order exactly", () => {
    const fused = reciprocalRankFusion(
      [
        { items: ["x", "y", "z"], weight: 1 },
        { items: ["z", "q", "y"], weight: 0 },
      ],
      id,
    );
    expect(fused.slice(0, 3).map((f) => f.item)).toEqual(["x", "y", "z"]);
  });

  test("weights shift the balance between lists", () => {
    const lists = (w: number) => [
      { items: ["l1", "l2"], weight: 1 },
      { items: ["d1", "d2"], weight: w },
    ];
    expect(reciprocalRankFusion(lists(2), id)[0]?.item).toBe("d1");
    expect(reciprocalRankFusion(lists(0.5), id)[0]?.item).toBe("l1");
  });

  test("repeats within a list count once, at their best rank; bad parameters are refused", () => {
    const fused = reciprocalRankFusion([{ items: ["a", "a", "b"], weight: 1 }], id, 1);
    expect(fused.map((f) => [f.item, f.score])).toEqual([
      ["a", 1 / 2],
      ["b", 1 / 4],
    ]);
    expect(() => reciprocalRankFusion([], id, 0)).toThrow(RangeError);
    expect(() => reciprocalRankFusion([{ items: ["a"], weight: -1 }], id)).toThrow(RangeError);
  });
});
