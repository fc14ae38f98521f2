import fc from "fast-check";
import { float16BitsToFloat32 } from "./float16.js";
import { dequantizeQ4_0, quantizeQ4_0 } from "./quant.js";
import { dequantizeQ4_K, packQ4_KScales, quantizeQ4_K, unpackQ4_KScales } from "./quant-k.js";
import { fillGaussian, mulberry32 } from "./random.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const sub = (j: number) => Array.from({ length: 32 }, (_, l) => j * 32 + l);

/** 128 quant bytes for per-sub-block quants q(j, l): chunk c holds sub-block 2c low, 2c + 1 high. */
function quantBytes(q: (j: number, l: number) => number): string {
  const bytes = Array.from({ length: 128 }, (_, i) => {
    const chunk = Math.floor(i / 32);
    return q(2 * chunk, i % 32) | (q(2 * chunk + 1, i % 32) << 4);
  });
  return hex(Uint8Array.from(bytes));
}

describe("Q4_K scale packing", () => {
  // Worked through ggml's get_scale_min_k4 by hand. Bytes 0-3: scales 0-3 plus the top 2 bits of
  // scales 4-7 (17 -> 1, 34 -> 2, 51 and 63 -> 3); bytes 4-7: mins 0-3 plus the top bits of mins 4-7
  // (20 -> 1, 40 -> 2, 60 -> 3, 33 -> 2); bytes 8-11: low nibbles of scale j (low) and min j (high).
  const scales = [1, 2, 3, 4, 17, 34, 51, 63];
  const mins = [0, 5, 10, 15, 20, 40, 60, 33];
  const packed = "4182c3c44085ca8f4182c31f";

  test.each([
    ["mixed codes", scales, mins, packed],
    ["every scale 63, every min 0", Array(8).fill(63), Array(8).fill(0), "ffffffff000000000f0f0f0f"],
    ["every scale 0, every min 63", Array(8).fill(0), Array(8).fill(63), "00000000fffffffff0f0f0f0"],
    // Scale 5: low nibble in byte 9, top bits in byte 1. Min 7: high nibble of byte 11, top bits in byte 7.
    ["only scale 5 at 63", [0, 0, 0, 0, 0, 63, 0, 0], Array(8).fill(0), "00c0000000000000000f0000"],
    ["only min 7 at 63", Array(8).fill(0), [0, 0, 0, 0, 0, 0, 0, 63], "00000000000000c0000000f0"],
  ])("packs %s like ggml", (_, s, m, bytes) => {
    expect(hex(packQ4_KScales(s, m))).toBe(bytes);
    expect(unpackQ4_KScales(Buffer.from(bytes, "hex"))).toEqual({ scales: s, mins: m });
  });

  // One code at an extreme, all 15 others at the opposite one, through a real block: d = 1,
  // dmin = 1/64 and every quant 1, so sub-block j decodes to scale[j] - min[j] / 64.
  const positions = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((j) =>
    (["scale", "min"] as const).flatMap((field) => [0, 63].map((value) => [j, field, value] as const)),
  );
  test.each(positions)("keeps sub-block %p's %s at %p next to opposite extremes", (j, field, value) => {
    const s = Array<number>(8).fill(63 - value);
    const m = Array<number>(8).fill(63 - value);
    (field === "scale" ? s : m)[j] = value;
    const packed = packQ4_KScales(s, m);
    expect(unpackQ4_KScales(packed)).toEqual({ scales: s, mins: m });

    const block = Buffer.from(`003c0024${hex(packed)}${"11".repeat(128)}`, "hex");
    const restored = dequantizeQ4_K(block);
    for (let k = 0; k < 8; k++) {
      expect([...new Set(sub(k).map((i) => restored[i]))]).toEqual([s[k]! - m[k]! / 64]);
    }
  });

  test("round-trips every code in every position", () => {
    const codes = fc.array(fc.integer({ min: 0, max: 63 }), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(codes, codes, (s, m) => {
        expect(unpackQ4_KScales(packQ4_KScales(s, m))).toEqual({ scales: s, mins: m });
      }),
    );
  });

  test.each([
    [[64, 0, 0, 0, 0, 0, 0, 0], Array(8).fill(0)],
    [Array(8).fill(0), [0, 0, 0, -1, 0, 0, 0, 0]],
    [Array(8).fill(0), [0, 0, 0, 0, 0, 0.5, 0, 0]],
    [Array(7).fill(0), Array(8).fill(0)],
  ])("rejects codes that do not fit: %p, %p", (s, m) => {
    expect(() => packQ4_KScales(s, m)).toThrow(RangeError);
  });
});

describe("dequantizeQ4_K", () => {
  test("decodes a hand-built block as d * scale * q - dmin * min", () => {
    // d = 0.5 (f16 0x3800), dmin = 0.25 (0x3400), the mixed codes packed above; sub-block j's quant l
    // is l % 16 in even sub-blocks (low nibbles) and 15 - l % 16 in odd ones (high nibbles).
    const q = (j: number, l: number) => (j % 2 === 0 ? l % 16 : 15 - (l % 16));
    const block = Buffer.from(`00380034${"4182c3c44085ca8f4182c31f"}${quantBytes(q)}`, "hex");
    expect(block.length).toBe(144);
    const scales = [1, 2, 3, 4, 17, 34, 51, 63];
    const mins = [0, 5, 10, 15, 20, 40, 60, 33];

    const restored = dequantizeQ4_K(block);
    const expected = Array.from({ length: 256 }, (_, i) => {
      const j = Math.floor(i / 32);
      return 0.5 * scales[j]! * q(j, i % 32) - 0.25 * mins[j]!;
    });
    expect([...restored]).toEqual(expected);
    expect([restored[0], restored[1], restored[32], restored[160], restored[207], restored[255]]).toEqual([
      0, 0.5, 13.75, 245, 367.5, -8.25,
    ]);
  });

  test("rounds d * scale * q - dmin * min to float32, as the C code does", () => {
    // d = 1, dmin = 2^-24 (the smallest f16), scale 63, min 1, quant 15: 945 - 2^-24 is 945 in float32.
    const block = Buffer.from(
      `003c0100${hex(packQ4_KScales(Array(8).fill(63), Array(8).fill(1)))}${"ff".repeat(128)}`,
      "hex",
    );
    expect(dequantizeQ4_K(block)[0]).toBe(945);
  });

  test("rejects data that is not whole blocks", () => {
    expect(() => dequantizeQ4_K(new Uint8Array(143))).toThrow(RangeError);
    expect(() => dequantizeQ4_K(new Uint8Array(145))).toThrow(/multiple of 144 bytes/);
    expect(dequantizeQ4_K(new Uint8Array(0))).toEqual(new Float32Array(0));
  });
});

describe("quantizeQ4_K", () => {
  test("reproduces a block that Q4_K represents exactly, bit for bit", () => {
    // Sub-block j holds d * scale[j] * (l % 16) - dmin * min[j] with d = 2^-4, dmin = 2^-5: the
    // largest scale and min are 63, so the super-block scales are exact, and so is every sub-block
    // grid. Sub-block 2 is constant (scale 0), so its quants are 0.
    const scales = [63, 1, 0, 20, 33, 7, 50, 12];
    const mins = [0, 63, 5, 0, 17, 40, 1, 63];
    const values = Float32Array.from({ length: 256 }, (_, i) => {
      const j = Math.floor(i / 32);
      return 2 ** -4 * scales[j]! * (i % 16) - 2 ** -5 * mins[j]!;
    });
    const q = (j: number, l: number) => (scales[j] === 0 ? 0 : l % 16);

    const data = quantizeQ4_K(values);
    expect(hex(data)).toBe(`002c0028${hex(packQ4_KScales(scales, mins))}${quantBytes(q)}`);
    expect(dequantizeQ4_K(data)).toEqual(values);
  });

  test("writes an all-zero block as zero bytes", () => {
    const data = quantizeQ4_K(new Float32Array(512));
    expect(data.length).toBe(2 * 144);
    expect(data.every((b) => b === 0)).toBe(true);
    expect(Object.is(dequantizeQ4_K(data)[0], 0)).toBe(true);
  });

  // The search never keeps a grid that leaves a value more than one step of the sub-block's own range
  // (max - min(min, 0)) / 15 from it; the plain min-to-max grid always qualifies. Storing the scale
  // and min as 6-bit multiples of the f16 d and dmin moves each of the 16 grid points by at most
  // 15 * ds + dm, where ds <= d/2 + 63 (d 2^-10 + 2^-25) covers rounding to a code, clamping it to 63
  // and the f16 rounding of d (likewise dm with dmin). On top, float32 rounding of the result.
  test("dequantizes within a step of each sub-block's range, plus the 6-bit scale rounding", () => {
    const block = fc.float32Array({
      minLength: 256,
      maxLength: 256,
      noNaN: true,
      noDefaultInfinity: true,
      min: -1e4,
      max: 1e4,
    });
    fc.assert(
      fc.property(fc.array(block, { minLength: 1, maxLength: 3 }), (blocks) => {
        const values = new Float32Array(blocks.flatMap((b) => [...b]));
        const data = quantizeQ4_K(values);
        const restored = dequantizeQ4_K(data);
        const tooFar = [...values].filter((x, i) => {
          const base = Math.floor(i / 256) * 144;
          const d = float16BitsToFloat32(data[base]! | (data[base + 1]! << 8));
          const dmin = float16BitsToFloat32(data[base + 2]! | (data[base + 3]! << 8));
          const group = values.subarray(i - (i % 32), i - (i % 32) + 32);
          const step = (Math.max(...group) - Math.min(...group, 0)) / 15;
          const codeError = 0.5 + 63 / 1024;
          const slop = 16 * 63 * 2 ** -24 + 2 ** -20 * Math.max(...group.map(Math.abs));
          return Math.abs(restored[i]! - x) > step + codeError * (15 * d + dmin) + slop;
        });
        expect(tooFar).toEqual([]);
      }),
    );
  });

  test("is more accurate than Q4_0 on Gaussian weights, at the same 4.5 bits per weight", () => {
    const values = fillGaussian(new Float32Array(256 * 512), mulberry32(11), 0.02);
    const rms = (restored: Float32Array) =>
      Math.sqrt(restored.reduce((sum, y, i) => sum + (y - values[i]!) ** 2, 0) / values.length);
    const q4k = quantizeQ4_K(values);
    expect(q4k.length).toBe(quantizeQ4_0(values).length);
    expect(rms(dequantizeQ4_K(q4k))).toBeLessThan(0.9 * rms(dequantizeQ4_0(quantizeQ4_0(values))));
  });

  test("rejects lengths that are not a multiple of 256", () => {
    expect(() => quantizeQ4_K(new Float32Array(255))).toThrow(RangeError);
    expect(() => quantizeQ4_K(new Float32Array(32))).toThrow(/multiple of 256 values, got 32/);
  });
});
