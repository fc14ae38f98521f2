import type { GgufBigIntType, GgufNumberType } from "./metadata.js";

const integerRanges: Record<Exclude<GgufNumberType, "float32" | "float64">, readonly [number, number]> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
};

const bigIntRanges: Record<GgufBigIntType, readonly [bigint, bigint]> = {
  uint64: [0n, 0xffffffffffffffffn],
  int64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

const textEncoder = new TextEncoder();

/** Growable little-endian buffer for the GGUF header. */
export class ByteWriter {
  private bytes = new Uint8Array(1 << 16);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  number(type: GgufNumberType, value: number): void {
    if (type !== "float32" && type !== "float64") {
      const [min, max] = integerRanges[type];
      if (!Number.isInteger(value) || value < min || value > max) {
        throw new RangeError(`${value} is not a valid ${type}`);
      }
    }
    const at = this.reserve(numberSizes[type]);
    numberSetters[type](this.view, at, value);
  }

  bigint(type: GgufBigIntType, value: bigint): void {
    const [min, max] = bigIntRanges[type];
    if (value < min || value > max) throw new RangeError(`${value} is not a valid ${type}`);
    const at = this.reserve(8);
    if (type === "uint64") this.view.setBigUint64(at, value, true);
    else this.view.setBigInt64(at, value, true);
  }

  uint32(value: number): void {
    this.number("uint32", value);
  }

  uint64(value: number | bigint): void {
    this.bigint("uint64", BigInt(value));
  }

  bool(value: boolean): void {
    this.number("uint8", value ? 1 : 0);
  }

  string(value: string): void {
    const encoded = textEncoder.encode(value);
    this.uint64(encoded.length);
    this.raw(encoded);
  }

  raw(data: Uint8Array): void {
    const at = this.reserve(data.length);
    this.bytes.set(data, at);
  }

  zeros(count: number): void {
    this.reserve(count);
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  private reserve(count: number): number {
    const at = this.length;
    if (at + count > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, at + count));
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length = at + count;
    return at;
  }
}

const numberSizes: Record<GgufNumberType, number> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  float64: 8,
};

const numberSetters: Record<GgufNumberType, (view: DataView, at: number, value: number) => void> = {
  uint8: (view, at, value) => view.setUint8(at, value),
  int8: (view, at, value) => view.setInt8(at, value),
  uint16: (view, at, value) => view.setUint16(at, value, true),
  int16: (view, at, value) => view.setInt16(at, value, true),
  uint32: (view, at, value) => view.setUint32(at, value, true),
  int32: (view, at, value) => view.setInt32(at, value, true),
  float32: (view, at, value) => view.setFloat32(at, value, true),
  float64: (view, at, value) => view.setFloat64(at, value, true),
};
