import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { GgufValidationError } from "./errors.js";

/** Random-access bytes: an in-memory buffer or an open file. */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `position`; fewer only at the end of the source. */
  read(position: number, length: number): Promise<Uint8Array>;
}

export function bufferSource(data: Uint8Array): ByteSource {
  return {
    size: data.byteLength,
    read: async (position, length) => data.subarray(position, Math.min(data.byteLength, position + length)),
  };
}

/** Runs `use` with the file opened for reading; only the bytes asked for are read. */
export async function withFileSource<T>(
  filePath: string,
  use: (source: ByteSource) => Promise<T>,
): Promise<T> {
  const handle = await open(filePath, "r");
  try {
    const { size } = await handle.stat();
    return await use({ size, read: (position, length) => readAt(handle, size, position, length) });
  } finally {
    await handle.close();
  }
}

async function readAt(
  handle: FileHandle,
  size: number,
  position: number,
  length: number,
): Promise<Uint8Array> {
  const wanted = Math.max(0, Math.min(length, size - position));
  const buffer = Buffer.allocUnsafe(wanted);
  let filled = 0;
  while (filled < wanted) {
    const { bytesRead } = await handle.read(buffer, filled, wanted - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

const CHUNK_BYTES = 1 << 20;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const utf8 = new TextDecoder("utf-8");

/**
 * Sequential little-endian reads over a ByteSource through a 1 MiB window.
 * Call `need(n)` (awaiting it when it returns a promise) before the sync reads of those n bytes.
 */
export class Cursor {
  position = 0;
  private window: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.window.buffer);
  private windowStart = 0;

  constructor(private readonly source: ByteSource) {}

  get size(): number {
    return this.source.size;
  }

  get remaining(): number {
    return this.source.size - this.position;
  }

  /** Makes `count` bytes readable, or throws a truncation error naming `what`. */
  need(count: number, what: string): Promise<void> | undefined {
    if (this.position + count <= this.windowStart + this.window.length) return undefined;
    return this.fill(count, what);
  }

  uint8(): number {
    return this.view.getUint8(this.advance(1));
  }
  int8(): number {
    return this.view.getInt8(this.advance(1));
  }
  uint16(): number {
    return this.view.getUint16(this.advance(2), true);
  }
  int16(): number {
    return this.view.getInt16(this.advance(2), true);
  }
  uint32(): number {
    return this.view.getUint32(this.advance(4), true);
  }
  int32(): number {
    return this.view.getInt32(this.advance(4), true);
  }
  float32(): number {
    return this.view.getFloat32(this.advance(4), true);
  }
  float64(): number {
    return this.view.getFloat64(this.advance(8), true);
  }
  uint64(): bigint {
    return this.view.getBigUint64(this.advance(8), true);
  }
  int64(): bigint {
    return this.view.getBigInt64(this.advance(8), true);
  }
  utf8(byteLength: number): string {
    const at = this.advance(byteLength);
    return utf8.decode(this.window.subarray(at, at + byteLength));
  }

  /** A uint64 length prefix, checked so that `length * minItemBytes` still fits in the file. */
  async length(what: string, minItemBytes: number): Promise<number> {
    await this.need(8, what);
    return this.checkedLength(this.uint64(), what, minItemBytes);
  }

  checkedLength(value: bigint, what: string, minItemBytes: number): number {
    const count = value > MAX_SAFE ? Number.POSITIVE_INFINITY : Number(value);
    if (count * minItemBytes > this.remaining) {
      throw truncated(
        `${what} at byte ${this.position - 8} declares ${value} items but only ${this.remaining} bytes remain`,
      );
    }
    return count;
  }

  /** A GGUF string: uint64 byte length, then UTF-8 bytes. */
  async string(what: string): Promise<string> {
    const byteLength = await this.length(what, 1);
    const pending = this.need(byteLength, what);
    if (pending) await pending;
    return this.utf8(byteLength);
  }

  private advance(count: number): number {
    const at = this.position - this.windowStart;
    this.position += count;
    return at;
  }

  private async fill(count: number, what: string): Promise<void> {
    if (count > this.remaining) {
      throw truncated(
        `${what} at byte ${this.position} needs ${count} bytes but only ${this.remaining} remain`,
      );
    }
    const window = await this.source.read(this.position, Math.max(count, CHUNK_BYTES));
    if (window.length < count) {
      throw truncated(`${what} at byte ${this.position} needs ${count} bytes but the file ended`);
    }
    this.window = window;
    this.view = new DataView(window.buffer, window.byteOffset, window.byteLength);
    this.windowStart = this.position;
  }
}

export function truncated(message: string): GgufValidationError {
  return new GgufValidationError("truncated", `truncated file: ${message}`);
}
