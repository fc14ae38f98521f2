import { describe, expect, test } from "@jest/globals";
import { chanceMrr, denseWeight, meanReciprocalRank, needsCalibration, pseudoQuery } from "./calibrate.js";

describe("calibration", () => {
  test("pseudo-queries are the middle words of a chunk", () => {
    expect(pseudoQuery("a b c d e f g", 3)).toBe("c d e");
    expect(pseudoQuery("  one   two ", 8)).toBe("one two");
  });

  test("mean reciprocal rank counts misses as 0", () => {
    expect(meanReciprocalRank([["x", "a"], ["b"], ["y"]], ["a", "b", "c"])).toBeCloseTo((1 / 2 + 1) / 3, 12);
    expect(meanReciprocalRank([], [])).toBe(0);
  });

  test.each([
    [1, 0.05, 0],
    [1, 0.5, 0],
    [1, 0.75, 0.5],
    [0.8, 0.8, 1],
    [0.6, 0.9, 1],
    [0, 0, 0],
  ])("lexical MRR %p, dense MRR %p (no chance level) → dense weight %p", (lexical, dense, w) => {
    expect(denseWeight({ lexical, dense, chance: 0 }, 0.5)).toBeCloseTo(w, 12);
  });

  test("what a random ranking would score earns nothing", () => {
    expect(chanceMrr(2, 10)).toBeCloseTo(0.75, 12);
    expect(chanceMrr(1000, 10)).toBeCloseTo(2.9289682539682538 / 1000, 12);
    // Two chunks: a random dense list finds the source at rank 1 or 2 (MRR 0.75) and gets no weight.
    expect(denseWeight({ lexical: 1, dense: 0.75, chance: 0.75 })).toBe(0);
    expect(denseWeight({ lexical: 1, dense: 0.95, chance: 0.75 })).toBeCloseTo(0.6, 12);
  });

  test("a weight is measured again when the collection doubled or halved", () => {
    expect(needsCalibration(0, 10)).toBe(true);
    expect(needsCalibration(10, 0)).toBe(false);
    expect(needsCalibration(100, 150)).toBe(false);
    expect(needsCalibration(100, 200)).toBe(true);
    expect(needsCalibration(100, 50)).toBe(true);
  });
});
