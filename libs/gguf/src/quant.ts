import { float16BitsToFloat32, float32ToFloat16, float32ToFloat16Bits } from "./float16.js";

// Module-level bindings keep the hot loops fast where global lookups are slow (vm contexts, e.g. jest).
const { abs, max, min, round, sign } = Math;

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

export function float32ToBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** Tensor types this library can produce from float32 values. */
export type EncodableTensorType = "F32" | "F16" | "Q8_0";

const encoders: Record<EncodableTensorType, (values: Float32Array) => Uint8Array> = {
  F32: float32ToBytes,
  F16: float32ToFloat16,
  Q8_0: quantizeQ8_0,
};

/** Raw tensor data of the given type for `values` (row-major, rows of ne[0] values). */
export function encodeTensorData(values: Float32Array, type: EncodableTensorType): Uint8Array {
  return encoders[type](values);
}

function roundHalfAwayFromZero(x: number): number {
  const rounded = sign(x) * round(abs(x));
  return max(-127, min(127, rounded));
}
