import { float16BitsToFloat32, float32ToFloat16, float32ToFloat16Bits } from "./float16.js";
import { quantizeQ4_K } from "./quant-k.js";

// Module-level bindings keep the hot loops fast where global lookups are slow (vm contexts, e.g. jest).
const { abs, fround, max, min, round, sign, trunc } = Math;
const finite = Number.isFinite;

export const Q8_0_BLOCK_VALUES = 32;
/** f16 scale followed by 32 int8 quants. */
export const Q8_0_BLOCK_BYTES = 34;

/**
 * Q8_0 blocks for `values` (length a multiple of 32), computed like ggml's
 * `quantize_row_q8_0_ref`: scale = max|x| / 127, quants rounded half away from zero.
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % Q8_0_BLOCK_VALUES !== 0) {
    throw new RangeError(`Q8_0 needs a multiple of ${Q8_0_BLOCK_VALUES} values, got ${values.length}`);
  }
  const blocks = values.length / Q8_0_BLOCK_VALUES;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const quants = new Int8Array(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const start = b * Q8_0_BLOCK_VALUES;
    let absMax = 0;
    for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) absMax = max(absMax, abs(values[start + j]!));
    const scale = absMax / 127;
    const inverse = scale === 0 ? 0 : 1 / scale;
    const base = b * Q8_0_BLOCK_BYTES;
    view.setUint16(base, float32ToFloat16Bits(scale), true);
    for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) {
      quants[base + 2 + j] = roundHalfAwayFromZero(values[start + j]! * inverse);
    }
  }
  return out;
}

export function dequantizeQ8_0(data: Uint8Array): Float32Array {
  if (data.byteLength % Q8_0_BLOCK_BYTES !== 0) {
    throw new RangeError(`Q8_0 data must be a multiple of ${Q8_0_BLOCK_BYTES} bytes, got ${data.byteLength}`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const blocks = data.byteLength / Q8_0_BLOCK_BYTES;
  const out = new Float32Array(blocks * Q8_0_BLOCK_VALUES);
  for (let b = 0; b < blocks; b++) {
    const base = b * Q8_0_BLOCK_BYTES;
    const scale = float16BitsToFloat32(view.getUint16(base, true));
    for (let j = 0; j < Q8_0_BLOCK_VALUES; j++) {
      out[b * Q8_0_BLOCK_VALUES + j] = view.getInt8(base + 2 + j) * scale;
    }
  }
  return out;
}

export const Q4_0_BLOCK_VALUES = 32;
/** f16 scale, then 16 bytes of 4-bit quants: value j in the low nibble of byte j, value j+16 in the high. */
export const Q4_0_BLOCK_BYTES = 18;

/**
 * Q4_0 blocks for `values` (length a multiple of 32), bit-for-bit like ggml's `quantize_row_q4_0_ref`,
 * float32 arithmetic included: d = max / -8 where max is the first value of largest magnitude, sign
 * kept, so it maps to quant 0; other values get min(15, trunc(x / d + 8.5)), i.e. x / d rounded half
 * up and clamped to [-8, 7]. The clamp costs up to a whole step |d| for values near -max.
 */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
  if (values.length % Q4_0_BLOCK_VALUES !== 0) {
    throw new RangeError(`Q4_0 needs a multiple of ${Q4_0_BLOCK_VALUES} values, got ${values.length}`);
  }
  const blocks = values.length / Q4_0_BLOCK_VALUES;
  const out = new Uint8Array(blocks * Q4_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const half = Q4_0_BLOCK_VALUES / 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * Q4_0_BLOCK_VALUES;
    const scale = fround(signedAbsMax(values, start) / -8);
    // An all-zero block gives scale -0: ggml stores f16 bits 0x8000 and quants of 8.
    const inverse = scale === 0 ? 0 : fround(1 / scale);
    const base = b * Q4_0_BLOCK_BYTES;
    view.setUint16(base, float32ToFloat16Bits(scale), true);
    for (let j = 0; j < half; j++) {
      const low = quantQ4_0(values[start + j]!, inverse);
      out[base + 2 + j] = low | (quantQ4_0(values[start + half + j]!, inverse) << 4);
    }
  }
  return out;
}

export function dequantizeQ4_0(data: Uint8Array): Float32Array {
  if (data.byteLength % Q4_0_BLOCK_BYTES !== 0) {
    throw new RangeError(`Q4_0 data must be a multiple of ${Q4_0_BLOCK_BYTES} bytes, got ${data.byteLength}`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const blocks = data.byteLength / Q4_0_BLOCK_BYTES;
  const out = new Float32Array(blocks * Q4_0_BLOCK_VALUES);
  const half = Q4_0_BLOCK_VALUES / 2;
  for (let b = 0; b < blocks; b++) {
    const base = b * Q4_0_BLOCK_BYTES;
    const scale = float16BitsToFloat32(view.getUint16(base, true));
    const start = b * Q4_0_BLOCK_VALUES;
    for (let j = 0; j < half; j++) {
      const packed = view.getUint8(base + 2 + j);
      out[start + j] = ((packed & 0x0f) - 8) * scale;
      out[start + half + j] = ((packed >>> 4) - 8) * scale;
    }
  }
  return out;
}

export function float32ToBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Tensor types this library can produce from float32 values. */
export type EncodableTensorType = "F32" | "F16" | "Q8_0" | "Q4_0" | "Q4_K";

const encoders: Record<EncodableTensorType, (values: Float32Array) => Uint8Array> = {
  F32: float32ToBytes,
  F16: float32ToFloat16,
  Q8_0: quantizeQ8_0,
  Q4_0: quantizeQ4_0,
  Q4_K: quantizeQ4_K,
};

/** Raw tensor data of the given type for `values` (row-major, rows of ne[0] values). */
export function encodeTensorData(values: Float32Array, type: EncodableTensorType): Uint8Array {
  return encoders[type](values);
}

function roundHalfAwayFromZero(x: number): number {
  const rounded = sign(x) * round(abs(x));
  return max(-127, min(127, rounded));
}

/** The first value of largest magnitude in the block at `start`, sign kept (NaNs never win). */
function signedAbsMax(values: Float32Array, start: number): number {
  let absMax = 0;
  let signed = 0;
  for (let j = start; j < start + Q4_0_BLOCK_VALUES; j++) {
    const value = values[j]!;
    if (absMax < abs(value)) {
      absMax = abs(value);
      signed = value;
    }
  }
  return signed;
}

/**
 * ggml's `MIN(15, (int8_t)(x*id + 8.5f))` with float32 rounding after each operation. The cast is
 * undefined in C for non-finite values, which only occur when 1/d overflows (|max| < 2^-125, where
 * the f16 scale is 0 anyway); 0 is what x86-64 builds produce.
 */
function quantQ4_0(value: number, inverse: number): number {
  const shifted = fround(fround(value * inverse) + 8.5);
  return finite(shifted) ? min(15, trunc(shifted)) : 0;
}
