import { createHash } from "node:crypto";
import fc from "fast-check";
import { float16BitsToFloat32 } from "./float16.js";
import { dequantizeQ4_0, dequantizeQ8_0, encodeTensorData, quantizeQ4_0, quantizeQ8_0 } from "./quant.js";
import { fillGaussian, mulberry32 } from "./random.js";

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

describe("quantizeQ4_0", () => {
  // Worked through ggml's quantize_row_q4_0_ref by hand. x[j] = (16 - j) / 4, so max = x[0] = 4,
  // d = 4 / -8 = -0.5 and id = -2; q[j] = min(15, trunc(-2 * x[j] + 8.5)) = min(15, trunc((j + 1) / 2)).
  // Byte j is q[j] | q[j + 16] << 4. The second block is all zeros: d = 0 / -8 = -0 and every q is 8.
  const worked = Float32Array.from({ length: 64 }, (_, j) => (j < 32 ? (16 - j) / 4 : 0));
  const workedBytes = [
    "00b8", // f16 -0.5
    "809191a2a2b3b3c4c4d5d5e6e6f7f7f8",
    "0080", // f16 -0
    "88".repeat(16),
  ].join("");

  test("packs a hand-computed block bit for bit", () => {
    expect(Buffer.from(quantizeQ4_0(worked)).toString("hex")).toBe(workedBytes);
  });

  test("dequantizes as (q - 8) * d", () => {
    const restored = dequantizeQ4_0(Buffer.from(workedBytes, "hex"));
    const q = (j: number) => Math.min(15, Math.trunc((j + 1) / 2));
    // The zero block's scale is -0, so it restores to -0 (as in ggml).
    expect([...restored]).toEqual(Array.from({ length: 64 }, (_, j) => (j < 32 ? (q(j) - 8) * -0.5 : -0)));
    // Ties round up in quant space: 3.75 / d = -7.5 becomes -7 (3.5); -3.75 / d = 7.5 becomes 8,
    // clamped to 7 (-3.5).
    expect([restored[1], restored[31]]).toEqual([3.5, -3.5]);
  });

  test("keeps the sign of the first value of largest magnitude", () => {
    const block = (a: number, b: number) => Float32Array.from({ length: 32 }, (_, j) => [a, b][j] ?? 0);
    const negativeFirst = quantizeQ4_0(block(-2, 2));
    // d = -2 / -8 = 0.25 (f16 0x3400); -2 gets quant 0, 2 would need 16 so gets 15 (1.75), zeros get 8.
    expect(Buffer.from(negativeFirst.subarray(0, 4)).toString("hex")).toBe("0034808f");
    expect(dequantizeQ4_0(negativeFirst).subarray(0, 2)).toEqual(Float32Array.of(-2, 1.75));
    expect(dequantizeQ4_0(quantizeQ4_0(block(2, -2))).subarray(0, 2)).toEqual(Float32Array.of(2, -1.75));
  });

  test("rounds in float32 like the C reference, not exactly", () => {
    // d = max / -8 = -0.41112703 (f16 0xb694). For x1, x / d is just above -0.5, so exact rounding
    // gives quant 7; in float32, x * id = -0.50000006 and -0.50000006 + 8.5 rounds to 8.0: quant 8.
    const values = new Float32Array(32);
    values.set([3.2890162467956543, 0.2055635303258896]);
    const bytes = Buffer.from(quantizeQ4_0(values)).toString("hex");
    expect(bytes).toBe(`94b680${"88".repeat(15)}`);
  });

  test("matches the bytes llama.cpp's quantize_row_q4_0_ref writes for seeded values", () => {
    const values = fillGaussian(new Float32Array(32 * 4096), mulberry32(7), 0.02);
    // Every other block holds small integers with |max| = 16, so id = ±1/2 and odd values are ties.
    const random = mulberry32(8);
    for (let b = 1; b < 4096; b += 2) {
      for (let j = 0; j < 32; j++) values[b * 32 + j] = Math.round(random() * 32 - 16);
      values[b * 32 + (b % 32)] = 16;
    }
    const sha256 = createHash("sha256").update(quantizeQ4_0(values)).digest("hex");
    // sha256 of the blocks the C reference writes for these values.
    expect(sha256).toBe("62d39e5ecd96718d9ca5b9b5a1990b7fc715e040b33f83b874a3ba376dd9bfe9");
  });

  // d = max / -8 maps max to quant 0 (-8 * d); rounding to the nearest of the 16 levels costs at most
  // |d| / 2, except that x / d in (7.5, 8] (opposite sign to max, |x| > 15/16 |max|) would need
  // quant 16 and is clamped to 15 (7 * d), an error of up to |d|. On top: the f16 scale is off by up to
  // 2^-11 |d| (normal halves) or 2^-25 (subnormal ones), times |q - 8| <= 8, and the float32 id and sum
  // can move a value lying within about 2^-20 steps of a tie to the other side.
  test("dequantizes within half a step, a whole step where the range clamps", () => {
    const block = fc.float32Array({
      minLength: 32,
      maxLength: 32,
      noNaN: true,
      noDefaultInfinity: true,
      min: -1e5,
      max: 1e5,
    });
    fc.assert(
      fc.property(fc.array(block, { minLength: 1, maxLength: 4 }), (blocks) => {
        const values = new Float32Array(blocks.flatMap((b) => [...b]));
        const restored = dequantizeQ4_0(quantizeQ4_0(values));
        const tooFar = [...values].filter((x, i) => {
          const max = firstOfLargestMagnitude(blocks[Math.floor(i / 32)]!);
          const step = Math.abs(max) / 8;
          const slop = 8 * (step * 2 ** -11 + 2 ** -25) + step * 2 ** -18;
          const clamped = x * Math.sign(max) < (-15 / 16) * Math.abs(max);
          return Math.abs(restored[i]! - x) > (clamped ? step : step / 2) + slop;
        });
        expect(tooFar).toEqual([]);
      }),
    );
  });

  test("rejects lengths that are not a multiple of 32", () => {
    expect(() => quantizeQ4_0(new Float32Array(48))).toThrow(RangeError);
    expect(() => dequantizeQ4_0(new Uint8Array(19))).toThrow(RangeError);
  });
});

function firstOfLargestMagnitude(values: Float32Array): number {
  return values.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
}

describe("encodeTensorData", () => {
  test.each([
    ["F32", 4 * 64],
    ["F16", 2 * 64],
    ["Q8_0", 2 * 34],
    ["Q4_0", 2 * 18],
  ] as const)("encodes 64 values as %s in %p bytes", (type, bytes) => {
    expect(encodeTensorData(new Float32Array(64).fill(0.25), type).length).toBe(bytes);
  });

  test("encodes 512 values as Q4_K in two 144-byte blocks", () => {
    expect(encodeTensorData(new Float32Array(512).fill(0.25), "Q4_K").length).toBe(2 * 144);
  });
});
