const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** IEEE half-precision bits of a float32 value, rounded to nearest even like ggml's conversion. */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToF16Bits(scratchU32[0]!);
}

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Little-endian F16 tensor data for `values`. */
export function float32ToFloat16(values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, f32BitsToF16Bits(bits[i]!), true);
  return out;
}

export function float16ToFloat32(data: Uint8Array): Float32Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(data.byteLength >>> 1);
  for (let i = 0; i < out.length; i++) out[i] = float16BitsToFloat32(view.getUint16(i * 2, true));
  return out;
}

function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 112;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) return sign | subnormalHalf(mantissa | 0x800000, 14 - halfExponent);
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | roundShift((halfExponent << 23) | mantissa, 13);
}

function subnormalHalf(significand: number, shift: number): number {
  return shift > 24 ? 0 : roundShift(significand, shift);
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const truncated = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return remainder > halfway || (remainder === halfway && truncated & 1) ? truncated + 1 : truncated;
}
