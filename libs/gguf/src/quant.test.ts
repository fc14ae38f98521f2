import fc from "fast-check";
import { float16BitsToFloat32 } from "./float16.js";
import { dequantizeQ8_0, encodeTensorData, quantizeQ8_0 } from "./quant.js";

describe("quantizeQ8_0", () => {
  test("stores an f16 scale of max|x|/127 and int8 quants per block of 32", () => {
    const values = Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? i - 16 : 0));
    const data = quantizeQ8_0(values);
    expect(data.length).toBe(2 * 34);
    const view = new DataView(data.buffer);
    expect(float16BitsToFloat32(view.getUint16(0, true))).toBeCloseTo(16 / 127, 4);
    expect(view.getInt8(2)).toBe(-127); // -16 is the largest magnitude
    expect(view.getInt8(2 + 16)).toBe(0);
    expect(view.getUint16(34, true)).toBe(0); // an all-zero block has scale 0
    expect([...data.subarray(36)].every((b) => b === 0)).toBe(true);
  });

  test("rounds halfway quants away from zero, like ggml's roundf", () => {
    const values = new Float32Array(32);
    values[0] = 127;
    values[1] = 2.5;
    values[2] = -2.5;
    const data = new Int8Array(quantizeQ8_0(values).buffer);
    expect([data[2], data[3], data[4]]).toEqual([127, 3, -3]);
  });

  test("dequantizes within half a quantization step (plus f16 scale error)", () => {
    const block = fc.float32Array({
      minLength: 32,
      maxLength: 32,
      noNaN: true,
      noDefaultInfinity: true,
      min: -1e4,
      max: 1e4,
    });
    fc.assert(
      fc.property(fc.array(block, { minLength: 1, maxLength: 4 }), (blocks) => {
        const values = new Float32Array(blocks.flatMap((b) => [...b]));
        const restored = dequantizeQ8_0(quantizeQ8_0(values));
        for (let b = 0; b < blocks.length; b++) {
          const absMax = Math.max(...blocks[b]!.map(Math.abs));
          // step/2 from rounding, plus 127 * |f16(scale) - scale|: relative 2^-11 for normal
          // halves, absolute 2^-25 for subnormal ones.
          const bound = absMax / 254 + absMax * 2 ** -11 + 127 * 2 ** -25;
          for (let j = 0; j < 32; j++) {
            expect(Math.abs(restored[b * 32 + j]! - values[b * 32 + j]!)).toBeLessThanOrEqual(bound);
          }
        }
      }),
    );
  });

  test("rejects lengths that are not a multiple of 32", () => {
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(RangeError);
  });
});

describe("encodeTensorData", () => {
  test.each([
    ["F32", 4 * 64],
    ["F16", 2 * 64],
    ["Q8_0", 2 * 34],
  ] as const)("encodes 64 values as %s in %p bytes", (type, bytes) => {
    expect(encodeTensorData(new Float32Array(64).fill(0.25), type).length).toBe(bytes);
  });
});
