import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ByteWriter } from "./byte-writer.js";
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  GgufValueTypeId,
  ggmlTypeInfo,
} from "./constants.js";
import type { GgufMetadata, GgufMetadataValue } from "./metadata.js";

export interface GgufTensorInput {
  readonly name: string;
  /** GGUF `ne` order: shape[0] is the row length. */
  readonly shape: readonly number[];
  /** A `GgmlType` id. */
  readonly type: number;
  /** Encoded tensor data, exactly the size the shape and type call for. */
  readonly data: Uint8Array;
}

export interface GgufFileInput {
  /** Written in order; `general.alignment` (uint32), when present, sets the data alignment. */
  readonly metadata: GgufMetadata;
  /** Written in order, each at the next aligned offset. */
  readonly tensors: readonly GgufTensorInput[];
}

/** Bytes in the data section for a tensor of this shape and type. */
export function tensorByteSize(shape: readonly number[], type: number): number {
  const info = ggmlTypeInfo(type);
  if (!info) throw new RangeError(`unknown ggml type ${type}`);
  const rowLength = shape[0] ?? 1;
  if (rowLength % info.blockSize !== 0) {
    throw new RangeError(
      `row length ${rowLength} is not a multiple of the ${info.name} block size ${info.blockSize}`,
    );
  }
  const rows = shape.slice(1).reduce((product, n) => product * n, 1);
  return (rowLength / info.blockSize) * info.typeSize * rows;
}

/** A tensor's header entry; its data is written separately. */
export type GgufTensorDescriptor = Omit<GgufTensorInput, "data">;

/**
 * The header (magic, version, metadata, tensor infos) padded to the data alignment.
 * Tensor data follows in the same order, each tensor padded to the alignment, so large
 * models can be streamed to disk one tensor at a time.
 */
export function encodeGgufHeader(
  metadata: GgufMetadata,
  tensors: readonly GgufTensorDescriptor[],
): Uint8Array {
  const alignment = alignmentOf(metadata);
  const header = new ByteWriter();
  header.uint32(GGUF_MAGIC);
  header.uint32(GGUF_VERSION);
  header.uint64(tensors.length);
  header.uint64(Object.keys(metadata).length);
  for (const [key, value] of Object.entries(metadata)) writeKeyValue(header, key, value);
  let offset = 0;
  const names = new Set<string>();
  for (const tensor of tensors) {
    const size = checkTensor(tensor, names);
    writeTensorInfo(header, tensor, offset);
    offset += size + padTo(size, alignment);
  }
  header.zeros(padTo(header.length, alignment));
  return header.result();
}

/** The file as a list of chunks (header, then each tensor's data and padding), never concatenated. */
export function serializeGguf(input: GgufFileInput): Uint8Array[] {
  const alignment = alignmentOf(input.metadata);
  const chunks = [encodeGgufHeader(input.metadata, input.tensors)];
  for (const tensor of input.tensors) {
    const expected = tensorByteSize(tensor.shape, tensor.type);
    if (tensor.data.length !== expected) {
      throw new RangeError(
        `tensor '${tensor.name}' has ${tensor.data.length} bytes of data, expected ${expected}`,
      );
    }
    chunks.push(tensor.data);
    const padding = padTo(expected, alignment);
    if (padding > 0) chunks.push(new Uint8Array(padding));
  }
  return chunks;
}

export function encodeGguf(input: GgufFileInput): Buffer {
  return Buffer.concat(serializeGguf(input));
}

/**
 * Writes the file atomically (temporary file, then rename), creating parent folders.
 * Readers never see a partial model, and concurrent writers of the same content are safe.
 */
export async function writeGgufFile(filePath: string, input: GgufFileInput): Promise<{ bytes: number }> {
  const chunks = serializeGguf(input);
  await mkdir(path.dirname(filePath), { recursive: true });
  const temporary = `${filePath}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, chunks);
    await rename(temporary, filePath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return { bytes: chunks.reduce((total, chunk) => total + chunk.length, 0) };
}

function alignmentOf(metadata: GgufMetadata): number {
  const value = metadata["general.alignment"];
  if (value === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (value.type !== "uint32" || value.value <= 0 || (value.value & (value.value - 1)) !== 0) {
    throw new RangeError("general.alignment must be a uint32 power of two");
  }
  return value.value;
}

function padTo(length: number, alignment: number): number {
  return (alignment - (length % alignment)) % alignment;
}

function writeKeyValue(out: ByteWriter, key: string, value: GgufMetadataValue): void {
  if (key.length === 0) throw new RangeError("metadata keys must not be empty");
  out.string(key);
  try {
    writeValue(out, value);
  } catch (error) {
    throw new RangeError(`metadata '${key}': ${(error as Error).message}`, { cause: error });
  }
}

function writeValue(out: ByteWriter, value: GgufMetadataValue): void {
  out.uint32(GgufValueTypeId[value.type]);
  if (value.type !== "array") {
    writeScalar(out, value.type, value.value);
    return;
  }
  out.uint32(GgufValueTypeId[value.itemType]);
  out.uint64(value.value.length);
  for (const item of value.value) writeScalar(out, value.itemType, item);
}

function writeScalar(
  out: ByteWriter,
  type: Exclude<GgufMetadataValue["type"], "array">,
  value: number | bigint | boolean | string,
): void {
  if (type === "string") out.string(String(value));
  else if (type === "bool") out.bool(Boolean(value));
  else if (type === "uint64" || type === "int64") out.bigint(type, BigInt(value));
  else out.number(type, Number(value));
}

/** Checks name and shape; returns the tensor's data size. */
function checkTensor(tensor: GgufTensorDescriptor, names: Set<string>): number {
  const nameBytes = Buffer.byteLength(tensor.name);
  if (nameBytes === 0 || nameBytes >= GGML_MAX_NAME) {
    throw new RangeError(`tensor name '${tensor.name}' must be 1 to ${GGML_MAX_NAME - 1} bytes`);
  }
  if (names.has(tensor.name)) throw new RangeError(`duplicate tensor '${tensor.name}'`);
  names.add(tensor.name);
  const { shape } = tensor;
  const validDims = shape.length >= 1 && shape.length <= GGML_MAX_DIMS;
  if (!validDims || !shape.every((n) => Number.isSafeInteger(n) && n > 0)) {
    throw new RangeError(`tensor '${tensor.name}' has invalid shape [${shape.join(", ")}]`);
  }
  return tensorByteSize(shape, tensor.type);
}

function writeTensorInfo(out: ByteWriter, tensor: GgufTensorDescriptor, offset: number): void {
  out.string(tensor.name);
  out.uint32(tensor.shape.length);
  for (const n of tensor.shape) out.uint64(n);
  out.uint32(tensor.type);
  out.uint64(offset);
}
