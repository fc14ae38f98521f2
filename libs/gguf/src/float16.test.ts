import fc from "fast-check";
import { float16BitsToFloat32, float16ToFloat32, float32ToFloat16, float32ToFloat16Bits } from "./float16.js";

describe("float16", () => {
  test.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up to infinity
    [1e6, 0x7c00],
    [Number.POSITIVE_INFINITY, 0x7c00],
    [Number.NEGATIVE_INFINITY, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to the smallest subnormal: ties to even (zero)
    [1.5 * 2 ** -25, 0x0001],
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even
    [1 + 3 * 2 ** -11, 0x3c02],
    [0.1, 0x2e66],
  ])("encodes %p as bits %p", (value, bits) => {
    expect(float32ToFloat16Bits(value)).toBe(bits);
  });

  test("keeps NaN a NaN", () => {
    expect(float16BitsToFloat32(float32ToFloat16Bits(Number.NaN))).toBeNaN();
  });

  test("decodes every finite half back to itself", () => {
    const mismatches: number[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = float16BitsToFloat32(bits);
      if (!Number.isNaN(value) && float32ToFloat16Bits(value) !== bits) mismatches.push(bits);
    }
    expect(mismatches).toEqual([]);
  });

  test("round trips within half precision's relative error", () => {
    fc.assert(
      fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (value) => {
        const back = float16BitsToFloat32(float32ToFloat16Bits(value));
        const tolerance = Math.max(Math.abs(value) * 2 ** -11, 2 ** -25);
        expect(Math.abs(back - value)).toBeLessThanOrEqual(tolerance);
      }),
    );
  });

  test("converts arrays little-endian", () => {
    const bytes = float32ToFloat16(new Float32Array([1, -2]));
    expect([...bytes]).toEqual([0x00, 0x3c, 0x00, 0xc0]);
    expect([...float16ToFloat32(bytes)]).toEqual([1, -2]);
  });
});
