import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { FILTER_LIMITS, FilterError, matchesFilter, parseFilter } from "./filter.js";

describe("metadata filters", () => {
  const meta = { kind: "paper", year: 1962, src: { lab: "NACA" }, tags: ["a"] };

  test.each([
    [{ kind: "paper" }, true],
    [{ kind: "Paper" }, false],
    [{ year: { $in: [1961, 1962] } }, true],
    [{ year: "1962" }, false],
    [{ "src.lab": "NACA" }, true],
    [{ "src.lab": { $eq: "RAE" } }, false],
    [{ tags: "a" }, false],
    [{ missing: "x" }, false],
    [{ $or: [{ kind: "book" }, { year: 1962 }] }, true],
    [{ $and: [{ kind: "paper" }, { year: 1900 }] }, false],
    [{ kind: "paper", year: 1962 }, true],
  ])("%j on the sample metadata → %p", (filter, expected) => {
    expect(matchesFilter(parseFilter(filter), meta)).toBe(expected);
  });

  test.each([
    [{}],
    [{ $not: { a: 1 } }],
    [{ $in: [] }],
    [{ a: { $in: [] } }],
    [{ a: { $gt: 1 } }],
    [{ "a..b": 1 }],
    [[]],
  ])("%j is refused", (filter) => {
    expect(() => parseFilter(filter)).toThrow();
  });

  test("deep nesting is refused before it is walked", () => {
    let f: unknown = { a: 1 };
    for (let i = 0; i < 10_000; i++) f = { $and: [f] };
    expect(() => parseFilter(f)).toThrow(FilterError);
  });

  test("$or matches when any branch does, and $and of a filter with itself is the filter", () => {
    const leaf = fc.record({
      k: fc.constantFrom("a", "b", "c.d"),
      v: fc.oneof(fc.integer(), fc.string(), fc.boolean()),
    });
    fc.assert(
      fc.property(
        fc.array(leaf, { minLength: 1, maxLength: 5 }),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (leaves, m) => {
          const f = { $or: leaves.map((l) => ({ [l.k]: l.v })) };
          const node = parseFilter(f);
          const any = leaves.some((l) => matchesFilter(parseFilter({ [l.k]: l.v }), m));
          expect(matchesFilter(node, m)).toBe(any);
          expect(matchesFilter(parseFilter({ $and: [f, f] }), m)).toBe(any);
          expect(leaves.length).toBeLessThanOrEqual(FILTER_LIMITS.conditions);
        },
      ),
    );
  });
});
