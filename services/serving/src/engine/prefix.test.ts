import fc from "fast-check";
import { commonPrefixLength, pickSequence } from "./prefix.js";

describe("commonPrefixLength", () => {
  it.each([
    [[], [], 0],
    [[1, 2, 3], [1, 2, 4], 2],
    [[1, 2], [1, 2, 3], 2],
    [[5], [6], 0],
  ])("%j and %j share %i", (a, b, n) => {
    expect(commonPrefixLength(a, b)).toBe(n);
  });

  it("property: a prompt extending a sequence shares all of it", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(255)), fc.array(fc.nat(255)), (a, rest) => {
        expect(commonPrefixLength(a, [...a, ...rest])).toBe(a.length);
      }),
    );
  });
});

describe("pickSequence", () => {
  it("takes the sequence sharing the longest prefix with the prompt", () => {
    const free = [
      { tokens: [1, 2], lastUsed: 1 },
      { tokens: [1, 2, 3, 4], lastUsed: 2 },
      { tokens: [9], lastUsed: 0 },
    ];
    expect(pickSequence(free, [1, 2, 3, 4, 5])).toBe(1);
  });

  it("takes the least recently used when none shares anything", () => {
    const free = [
      { tokens: [7], lastUsed: 5 },
      { tokens: [8], lastUsed: 2 },
      { tokens: [], lastUsed: 3 },
    ];
    expect(pickSequence(free, [1, 2])).toBe(1);
  });

  it("returns -1 when no sequence is free", () => {
    expect(pickSequence([], [1])).toBe(-1);
  });
});
