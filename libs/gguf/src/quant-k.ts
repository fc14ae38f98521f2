import { float16BitsToFloat32, float32ToFloat16Bits } from "./float16.js";

// Module-level bindings keep the hot loops fast where global lookups are slow (vm contexts, e.g. jest).
const { abs, max, min, round, sqrt } = Math;

export const Q4_K_BLOCK_VALUES = 256;
/**
 * ggml's block_q4_K: f16 `d`, f16 `dmin`, 12 bytes packing eight 6-bit scales and eight 6-bit mins,
 * then 128 bytes of 4-bit quants. Sub-block j decodes as d * scale[j] * q - dmin * min[j].
 */
export const Q4_K_BLOCK_BYTES = 144;

const SUB_BLOCKS = 8;
const SUB_BLOCK_VALUES = 32;
const SCALES_AT = 4;
const SCALES_BYTES = 12;
const QUANTS_AT = SCALES_AT + SCALES_BYTES;
const MAX_QUANT = 15;
const MAX_CODE = 63;
/** The largest finite half; larger super-block scales are clamped rather than stored as infinity. */
const MAX_HALF = 65504;
/** Grids tried per sub-block: 15 steps over the value range, stretched by -1 to +1 step in tenths. */
const STRETCHES = Array.from({ length: 21 }, (_, k) => -1 + k / 10);

/**
 * Q4_K blocks for `values` (length a multiple of 256). Not bit-exact with ggml's
 * `quantize_row_q4_K_ref`, but the same method: per sub-block of 32, a weighted least-squares search
 * for scale and min over stretched grids (weights rms + |x|, like `make_qkx2_quants`), then the eight
 * scales and mins quantized to 6 bits against f16 super-block scales, then every value requantized
 * against the stored grid. Differences: double-precision arithmetic; the 6-bit codes are rounded
 * against the stored f16 scale rather than the unrounded one; a grid that leaves any value more than
 * one full step (range / 15) away is never chosen, which bounds the worst-case error (see the tests);
 * and a super-block scale beyond the f16 range is clamped to 65504 instead of becoming infinity.
 */
export function quantizeQ4_K(values: Float32Array): Uint8Array {
  if (values.length % Q4_K_BLOCK_VALUES !== 0) {
    throw new RangeError(`Q4_K needs a multiple of ${Q4_K_BLOCK_VALUES} values, got ${values.length}`);
  }
  const blocks = values.length / Q4_K_BLOCK_VALUES;
  const out = new Uint8Array(blocks * Q4_K_BLOCK_BYTES);
  const quantizer = new BlockQuantizer();
  for (let b = 0; b < blocks; b++) {
    quantizer.quantize(values, b * Q4_K_BLOCK_VALUES, out, b * Q4_K_BLOCK_BYTES);
  }
  return out;
}

/**
 * Exactly ggml's `dequantize_row_q4_K`. d * scale and dmin * min are exact in float32 (11 + 6
 * significant bits), and so is their product with a 4-bit quant; only the final subtraction rounds,
 * and doing it in double before the Float32Array store rounds the same as float32 arithmetic.
 */
export function dequantizeQ4_K(data: Uint8Array): Float32Array {
  if (data.byteLength % Q4_K_BLOCK_BYTES !== 0) {
    throw new RangeError(`Q4_K data must be a multiple of ${Q4_K_BLOCK_BYTES} bytes, got ${data.byteLength}`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const blocks = data.byteLength / Q4_K_BLOCK_BYTES;
  const out = new Float32Array(blocks * Q4_K_BLOCK_VALUES);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q4_K_BLOCK_BYTES;
    const d = float16BitsToFloat32(view.getUint16(base, true));
    const dmin = float16BitsToFloat32(view.getUint16(base + 2, true));
    for (let j = 0; j < SUB_BLOCKS; j++) {
      const scale = d * scaleCode(data, base + SCALES_AT, j);
      const offset = dmin * minCode(data, base + SCALES_AT, j);
      // Sub-blocks 2c and 2c+1 share the 32 bytes of chunk c: low nibbles, then high nibbles.
      const quants = base + QUANTS_AT + (j >>> 1) * SUB_BLOCK_VALUES;
      const shift = (j & 1) * 4;
      const at = b * Q4_K_BLOCK_VALUES + j * SUB_BLOCK_VALUES;
      for (let l = 0; l < SUB_BLOCK_VALUES; l++) {
        out[at + l] = scale * ((data[quants + l]! >>> shift) & 0x0f) - offset;
      }
    }
  }
  return out;
}

/**
 * The 12 scale bytes of a block for eight 6-bit scales and mins (ggml's layout, read back by its
 * `get_scale_min_k4`): bytes 0-3 hold scales 0-3 and bytes 4-7 mins 0-3 in their low 6 bits; bytes
 * 8-11 hold the low nibbles of scales 4-7 (low) and mins 4-7 (high); the top 2 bits of scales 4-7
 * sit in bytes 0-3 and of mins 4-7 in bytes 4-7.
 */
export function packQ4_KScales(scales: ArrayLike<number>, mins: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(SCALES_BYTES);
  writeScales(scales, mins, out, 0);
  return out;
}

/** The eight 6-bit scales and mins in 12 scale bytes. */
export function unpackQ4_KScales(bytes: Uint8Array): { scales: number[]; mins: number[] } {
  if (bytes.length !== SCALES_BYTES) throw new RangeError(`Q4_K scales are 12 bytes, got ${bytes.length}`);
  const indices = Array.from({ length: SUB_BLOCKS }, (_, j) => j);
  return {
    scales: indices.map((j) => scaleCode(bytes, 0, j)),
    mins: indices.map((j) => minCode(bytes, 0, j)),
  };
}

function writeScales(scales: ArrayLike<number>, mins: ArrayLike<number>, out: Uint8Array, at: number): void {
  if (scales.length !== SUB_BLOCKS || mins.length !== SUB_BLOCKS) {
    throw new RangeError(`Q4_K needs ${SUB_BLOCKS} scales and ${SUB_BLOCKS} mins`);
  }
  for (let j = 0; j < SUB_BLOCKS; j++) {
    const scale = checkedCode(scales[j]!);
    const offset = checkedCode(mins[j]!);
    if (j < 4) {
      out[at + j] = out[at + j]! | scale;
      out[at + j + 4] = out[at + j + 4]! | offset;
    } else {
      out[at + j + 4] = (scale & 0x0f) | ((offset & 0x0f) << 4);
      out[at + j - 4] = out[at + j - 4]! | ((scale >>> 4) << 6);
      out[at + j] = out[at + j]! | ((offset >>> 4) << 6);
    }
  }
}

function checkedCode(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > MAX_CODE) {
    throw new RangeError(`Q4_K scales and mins are integers in [0, ${MAX_CODE}], got ${code}`);
  }
  return code;
}

function scaleCode(bytes: Uint8Array, at: number, j: number): number {
  if (j < 4) return bytes[at + j]! & MAX_CODE;
  return (bytes[at + j + 4]! & 0x0f) | ((bytes[at + j - 4]! >>> 6) << 4);
}

function minCode(bytes: Uint8Array, at: number, j: number): number {
  if (j < 4) return bytes[at + j + 4]! & MAX_CODE;
  return (bytes[at + j + 4]! >>> 4) | ((bytes[at + j]! >>> 6) << 4);
}

/** Quantizes one super-block at a time, reusing its scratch arrays. */
class BlockQuantizer {
  private readonly fitter = new SubBlockFitter();
  private readonly scales = new Float64Array(SUB_BLOCKS);
  private readonly mins = new Float64Array(SUB_BLOCKS);
  private readonly scaleCodes = new Uint8Array(SUB_BLOCKS);
  private readonly minCodes = new Uint8Array(SUB_BLOCKS);
  private readonly levels = new Uint8Array(Q4_K_BLOCK_VALUES);

  quantize(values: Float32Array, start: number, out: Uint8Array, base: number): void {
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < SUB_BLOCKS; j++) {
      this.fitter.fit(values, start + j * SUB_BLOCK_VALUES);
      this.scales[j] = this.fitter.scale;
      this.mins[j] = this.fitter.min;
      if (this.fitter.scale > maxScale) maxScale = this.fitter.scale;
      if (this.fitter.min > maxMin) maxMin = this.fitter.min;
    }
    const view = new DataView(out.buffer, out.byteOffset + base, Q4_K_BLOCK_BYTES);
    const d = storeHalf(view, 0, maxScale / MAX_CODE);
    const dmin = storeHalf(view, 2, maxMin / MAX_CODE);
    for (let j = 0; j < SUB_BLOCKS; j++) {
      this.scaleCodes[j] = codeFor(this.scales[j]!, d);
      this.minCodes[j] = codeFor(this.mins[j]!, dmin);
      const at = j * SUB_BLOCK_VALUES;
      const scale = d * this.scaleCodes[j]!;
      const offset = dmin * this.minCodes[j]!;
      requantize(values, start + at, scale, offset, this.levels.subarray(at, at + SUB_BLOCK_VALUES));
    }
    writeScales(this.scaleCodes, this.minCodes, out, base + SCALES_AT);
    packQuants(this.levels, out, base + QUANTS_AT);
  }
}

/** Stores `value` as an f16 (clamped to the largest finite half) and returns what was stored. */
function storeHalf(view: DataView, at: number, value: number): number {
  const bits = float32ToFloat16Bits(min(value, MAX_HALF));
  view.setUint16(at, bits, true);
  return float16BitsToFloat32(bits);
}

function codeFor(value: number, step: number): number {
  return step > 0 ? min(MAX_CODE, round(value / step)) : 0;
}

/** The nearest point of the stored grid scale * q - offset, q in [0, 15], for each value. */
function requantize(values: Float32Array, start: number, scale: number, offset: number, levels: Uint8Array) {
  if (!(scale > 0)) {
    // Every quant decodes to -offset; ggml leaves its search's quants here, which decode the same.
    levels.fill(0);
    return;
  }
  for (let i = 0; i < SUB_BLOCK_VALUES; i++) {
    levels[i] = clampLevel(round((values[start + i]! + offset) / scale));
  }
}

function clampLevel(level: number): number {
  return max(0, min(MAX_QUANT, level));
}

/** round(steps) clamped to 15, for steps >= 0 (values are never below the grid's start). */
function nearestLevel(steps: number): number {
  const level = (steps + 0.5) | 0;
  return min(level, MAX_QUANT);
}

/** Chunk c of 64 values becomes 32 bytes: value l in the low nibble of byte l, value 32 + l in the high. */
function packQuants(levels: Uint8Array, out: Uint8Array, at: number): void {
  for (let chunk = 0; chunk < Q4_K_BLOCK_VALUES; chunk += 2 * SUB_BLOCK_VALUES) {
    for (let l = 0; l < SUB_BLOCK_VALUES; l++) {
      out[at + chunk / 2 + l] = levels[chunk + l]! | (levels[chunk + SUB_BLOCK_VALUES + l]! << 4);
    }
  }
}

/**
 * Fits x ~ scale * q - min (scale >= 0, min >= 0, q in [0, 15]) to 32 values, minimising the error
 * weighted by rms + |x|. The format's mins are unsigned, so the grid always reaches down to 0 or below.
 */
class SubBlockFitter {
  scale = 0;
  min = 0;
  private readonly values = new Float64Array(SUB_BLOCK_VALUES);
  private readonly weights = new Float64Array(SUB_BLOCK_VALUES);
  private readonly levels = new Uint8Array(SUB_BLOCK_VALUES);
  private lo = 0;
  private range = 0;
  private sumW = 0;
  private sumWX = 0;
  private sumWXX = 0;
  private bestError = 0;

  fit(values: Float32Array, start: number): void {
    let lo = 0;
    let hi = Number.NEGATIVE_INFINITY;
    let sumSquares = 0;
    for (let i = 0; i < SUB_BLOCK_VALUES; i++) {
      const x = values[start + i]!;
      this.values[i] = x;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
      sumSquares += x * x;
    }
    this.scale = 0;
    this.min = 0 - lo;
    this.lo = lo;
    this.range = hi - lo;
    if (!(hi > lo)) return; // constant values (or NaNs): the min alone represents them
    this.weigh(sqrt(sumSquares / SUB_BLOCK_VALUES));
    this.bestError = Number.POSITIVE_INFINITY;
    this.tryGrid(MAX_QUANT / this.range, this.range / MAX_QUANT, lo);
    for (const stretch of STRETCHES) this.tryLeastSquares((MAX_QUANT + stretch) / this.range);
  }

  private weigh(rms: number): void {
    const { values, weights } = this;
    let sumW = 0;
    let sumWX = 0;
    let sumWXX = 0;
    for (let i = 0; i < SUB_BLOCK_VALUES; i++) {
      const x = values[i]!;
      const weight = rms + abs(x);
      weights[i] = weight;
      sumW += weight;
      sumWX += weight * x;
      sumWXX += weight * x * x;
    }
    this.sumW = sumW;
    this.sumWX = sumWX;
    this.sumWXX = sumWXX;
  }

  /** Quantizes against 1 / inverse steps from lo, then fits scale and offset to those quants. */
  private tryLeastSquares(inverse: number): void {
    const { values, weights, levels, lo } = this;
    let sumL = 0;
    let sumLL = 0;
    let sumXL = 0;
    for (let i = 0; i < SUB_BLOCK_VALUES; i++) {
      const x = values[i]!;
      const level = nearestLevel(inverse * (x - lo));
      const weight = weights[i]!;
      levels[i] = level;
      sumL += weight * level;
      sumLL += weight * level * level;
      sumXL += weight * level * x;
    }
    const det = this.sumW * sumLL - sumL * sumL;
    if (!(det > 0)) return;
    let scale = (this.sumW * sumXL - this.sumWX * sumL) / det;
    let offset = (sumLL * this.sumWX - sumL * sumXL) / det;
    if (offset > 0) {
      offset = 0;
      scale = sumXL / sumLL;
    }
    if (!(scale >= 0)) return;
    // The weighted squared error from the sums; only a better fit pays for the exact check below.
    const error =
      scale * scale * sumLL +
      2 * scale * offset * sumL +
      offset * offset * this.sumW -
      2 * scale * sumXL -
      2 * offset * this.sumWX +
      this.sumWXX;
    if (error < this.bestError) this.consider(scale, offset);
  }

  private tryGrid(inverse: number, scale: number, offset: number): void {
    const { values, levels, lo } = this;
    for (let i = 0; i < SUB_BLOCK_VALUES; i++) levels[i] = nearestLevel(inverse * (values[i]! - lo));
    this.consider(scale, offset);
  }

  /** Keeps scale * level + offset if it beats the best so far and leaves no value a step away. */
  private consider(scale: number, offset: number): void {
    const { values, weights, levels } = this;
    let error = 0;
    let worst = 0;
    for (let i = 0; i < SUB_BLOCK_VALUES; i++) {
      const diff = scale * levels[i]! + offset - values[i]!;
      error += weights[i]! * diff * diff;
      worst = max(worst, abs(diff));
    }
    if (error < this.bestError && worst <= this.range / MAX_QUANT) {
      this.bestError = error;
      this.scale = scale;
      this.min = 0 - offset;
    }
  }
}
