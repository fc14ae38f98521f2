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
  it("takes the sequence whose tokens the prompt extends, the longest such", () => {
    const free = [
      { tokens: [1, 2], lastUsed: 1 },
      { tokens: [1, 2, 3, 4], lastUsed: 2 },
      { tokens: [9], lastUsed: 0 },
      { tokens: [], lastUsed: 0 },
    ];
    expect(pickSequence(free, [1, 2, 3, 4, 5])).toBe(1);
  });

  it("prefers an empty sequence to one whose extra tokens would have to be erased", () => {
    const free = [
      { tokens: [1, 2, 3, 9, 9], lastUsed: 0 },
      { tokens: [], lastUsed: 5 },
    ];
    expect(pickSequence(free, [1, 2, 3, 4])).toBe(1);
    // A sequence holding exactly the prompt still needs its last token evaluated again.
    expect(
      pickSequence(
        [
          { tokens: [1, 2], lastUsed: 0 },
          { tokens: [], lastUsed: 1 },
        ],
        [1, 2],
      ),
    ).toBe(1);
  });

  it("otherwise takes the longest shared prefix, then the least recently used", () => {
    const free = [
      { tokens: [7], lastUsed: 5 },
      { tokens: [8], lastUsed: 2 },
      { tokens: [1, 2, 8], lastUsed: 9 },
    ];
    expect(pickSequence(free, [1, 2, 3])).toBe(2);
    expect(pickSequence(free.slice(0, 2), [1, 2])).toBe(1);
  });

  it("when nothing else decodes, takes the longest shared prefix even if tokens must be erased", () => {
    const free = [
      { tokens: [1, 2, 3, 9, 9], lastUsed: 0 },
      { tokens: [], lastUsed: 5 },
    ];
    expect(pickSequence(free, [1, 2, 3, 4], { busy: false })).toBe(0);
    // Sharing nothing, it keeps used sequences' prefixes and takes an empty one.
    expect(
      pickSequence(
        [
          { tokens: [7], lastUsed: 0 },
          { tokens: [], lastUsed: 9 },
        ],
        [1],
        { busy: false },
      ),
    ).toBe(1);
  });

  it("returns -1 when no sequence is free", () => {
    expect(pickSequence([], [1])).toBe(-1);
  });
});
