import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { median, percentile } from "./stats.js";

describe("percentile", () => {
  it.each([
    [[5], 50, 5],
    [[5], 99, 5],
    [[3, 1, 2], 50, 2],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 75, 3],
    [[1, 2, 3, 4], 100, 4],
    [[1, 2, 3, 4], 0, 1],
    [Array.from({ length: 100 }, (_, i) => 100 - i), 99, 99],
    [Array.from({ length: 100 }, (_, i) => i + 1), 50, 50],
  ])("of %j at p%d is %d (nearest rank, input order irrelevant)", (samples, p, expected) => {
    expect(percentile(samples, p)).toBe(expected);
  });

  it("is NaN without samples and refuses p outside [0, 100]", () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it("always returns one of the samples, never below a lower percentile's", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true }), { minLength: 1 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (samples, a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(samples).toContain(percentile(samples, lo));
          expect(percentile(samples, hi)).toBeGreaterThanOrEqual(percentile(samples, lo));
        },
      ),
    );
  });

  it("leaves its input unsorted", () => {
    const samples = [3, 1, 2];
    percentile(samples, 50);
    expect(samples).toEqual([3, 1, 2]);
  });
});

describe("median", () => {
  it.each([
    [[7], 7],
    [[9, 1, 5], 5],
    [[4, 1, 3, 2], 2.5],
  ])("of %j is %d", (samples, expected) => {
    expect(median(samples)).toBe(expected);
  });

  it("is NaN without samples", () => {
    expect(median([])).toBeNaN();
  });
});
