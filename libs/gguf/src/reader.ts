import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  type GgmlTypeName,
  type GgufScalarTypeName,
  ggmlTypeInfo,
  ggufValueTypeName,
} from "./constants.js";
import { type ByteSource, bufferSource, Cursor, withFileSource } from "./cursor.js";
import { GgufValidationError } from "./errors.js";
import type { GgufArrayValue, GgufMetadata, GgufMetadataValue, GgufScalarValue } from "./metadata.js";

export interface GgufTensorInfo {
  readonly name: string;
  /** GGUF `ne` order: shape[0] is the row length. */
  readonly shape: readonly number[];
  /** A `GgmlType` id. */
  readonly type: number;
  readonly typeName: GgmlTypeName;
  /** Offset within the data section. */
  readonly offset: number;
  readonly byteSize: number;
}

export interface GgufFileInfo {
  readonly version: number;
  readonly metadata: GgufMetadata;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute file offset where tensor data starts. */
  readonly dataOffset: number;
  readonly fileSize: number;
}

/** A path to a GGUF file, or its bytes. */
export type GgufInput = string | Uint8Array;

// Smallest encodings, used to reject impossible counts before looping over them.
const MIN_KEY_VALUE_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

/**
 * Reads and checks the header, metadata and tensor infos, and that every tensor's data
 * lies inside the file. Tensor data itself is never read, so multi-GB files are cheap.
 * Throws GgufValidationError for anything llama.cpp's GGUF loader would reject.
 */
export async function inspectGguf(input: GgufInput): Promise<GgufFileInfo> {
  if (typeof input === "string") return withFileSource(input, parseGguf);
  return parseGguf(bufferSource(input));
}

/** The raw bytes of one tensor. */
export async function readTensorData(
  input: GgufInput,
  file: GgufFileInfo,
  name: string,
): Promise<Uint8Array> {
  const tensor = file.tensors.find((t) => t.name === name);
  if (!tensor) throw new RangeError(`no tensor named '${name}'`);
  const read = (source: ByteSource) => source.read(file.dataOffset + tensor.offset, tensor.byteSize);
  return typeof input === "string" ? withFileSource(input, read) : read(bufferSource(input));
}

async function parseGguf(source: ByteSource): Promise<GgufFileInfo> {
  const cursor = new Cursor(source);
  const { version, tensorCount, keyValueCount } = await readHeader(cursor);
  const metadata = await readMetadata(cursor, keyValueCount);
  const alignment = alignmentOf(metadata);
  const rawTensors = await readTensorInfos(cursor, tensorCount);
  const dataOffset = cursor.position + padding(cursor.position, alignment);
  if (rawTensors.length > 0 && dataOffset > source.size) {
    throw new GgufValidationError(
      "truncated",
      `truncated file: tensor data should start at byte ${dataOffset} but the file is ${source.size} bytes`,
    );
  }
  const tensors = layOutTensors(rawTensors, { dataOffset, alignment, fileSize: source.size });
  return { version, metadata, tensors, alignment, dataOffset, fileSize: source.size };
}

async function readHeader(cursor: Cursor) {
  if (cursor.size < 4) {
    throw new GgufValidationError(
      "truncated",
      `truncated file: ${cursor.size} bytes is too short for a GGUF header`,
    );
  }
  await cursor.need(4, "magic");
  const magic = cursor.uint32();
  if (magic !== GGUF_MAGIC) {
    throw new GgufValidationError(
      "bad_magic",
      `not a GGUF file: magic is ${describeMagic(magic)}, expected "GGUF"`,
    );
  }
  await cursor.need(20, "header");
  const version = cursor.uint32();
  checkVersion(version);
  const tensorCount = cursor.uint64();
  const keyValueCount = cursor.uint64();
  const minimum = keyValueCount * BigInt(MIN_KEY_VALUE_BYTES) + tensorCount * BigInt(MIN_TENSOR_INFO_BYTES);
  if (minimum > BigInt(cursor.remaining)) {
    throw new GgufValidationError(
      "truncated",
      `truncated file: header declares ${keyValueCount} key-value pairs and ${tensorCount} tensors but only ${cursor.remaining} bytes follow`,
    );
  }
  return { version, tensorCount: Number(tensorCount), keyValueCount: Number(keyValueCount) };
}

function describeMagic(magic: number): string {
  const bytes = [0, 8, 16, 24].map((shift) => (magic >>> shift) & 0xff);
  const printable = bytes.every((b) => b >= 0x20 && b < 0x7f);
  return printable
    ? JSON.stringify(String.fromCharCode(...bytes))
    : `0x${magic.toString(16).padStart(8, "0")}`;
}

function checkVersion(version: number): void {
  if (version === 2 || version === 3) return;
  const hint =
    version === 1
      ? " (GGUF v1 is obsolete; convert the model again)"
      : version > 0xffff
        ? " (big-endian files are not supported)"
        : "";
  throw new GgufValidationError(
    "unsupported_version",
    `unsupported GGUF version ${version}${hint}; supported: 2, 3`,
  );
}

async function readMetadata(cursor: Cursor, count: number): Promise<GgufMetadata> {
  const metadata: GgufMetadata = Object.create(null);
  for (let i = 0; i < count; i++) {
    const key = await cursor.string(`metadata key ${i}`);
    if (key.length === 0) throw new GgufValidationError("bad_metadata", `metadata key ${i} is empty`);
    if (key in metadata) throw new GgufValidationError("bad_metadata", `duplicate metadata key '${key}'`);
    metadata[key] = await readValue(cursor, key);
  }
  return metadata;
}

async function readValue(cursor: Cursor, key: string): Promise<GgufMetadataValue> {
  await cursor.need(4, `type of '${key}'`);
  const type = valueType(cursor.uint32(), key);
  if (type !== "array") return readScalar(cursor, type, key);
  await cursor.need(4, `item type of '${key}'`);
  const itemType = valueType(cursor.uint32(), key);
  if (itemType === "array")
    throw new GgufValidationError("bad_metadata", `metadata '${key}' is a nested array`);
  const what = `array '${key}'`;
  const count = await cursor.length(what, scalarReaders[itemType].size);
  const items =
    itemType === "string"
      ? await readStrings(cursor, count, what)
      : await readNumbers(cursor, count, itemType, what);
  return { type: "array", itemType, value: items } as GgufArrayValue;
}

// The array readers await only when the read window runs out: token lists run to 100k+ items.
async function readStrings(cursor: Cursor, count: number, what: string): Promise<string[]> {
  const items: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const lengthPending = cursor.need(8, what);
    if (lengthPending) await lengthPending;
    const byteLength = cursor.checkedLength(cursor.uint64(), what, 1);
    const textPending = cursor.need(byteLength, what);
    if (textPending) await textPending;
    items[i] = cursor.utf8(byteLength);
  }
  return items;
}

async function readNumbers(
  cursor: Cursor,
  count: number,
  type: GgufScalarTypeName,
  what: string,
): Promise<unknown[]> {
  const { size, read } = scalarReaders[type];
  const items: unknown[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const pending = cursor.need(size, what);
    if (pending) await pending;
    items[i] = read(cursor);
  }
  return items;
}

function valueType(id: number, key: string) {
  const type = ggufValueTypeName(id);
  if (type === undefined)
    throw new GgufValidationError("bad_metadata", `metadata '${key}' has unknown value type ${id}`);
  return type;
}

async function readScalar(cursor: Cursor, type: GgufScalarTypeName, key: string): Promise<GgufScalarValue> {
  if (type === "string") return { type, value: await cursor.string(`value of '${key}'`) };
  const reader = scalarReaders[type];
  const pending = cursor.need(reader.size, `value of '${key}'`);
  if (pending) await pending;
  return { type, value: reader.read(cursor) } as GgufScalarValue;
}

const scalarReaders: Record<GgufScalarTypeName, { size: number; read: (cursor: Cursor) => unknown }> = {
  uint8: { size: 1, read: (c) => c.uint8() },
  int8: { size: 1, read: (c) => c.int8() },
  uint16: { size: 2, read: (c) => c.uint16() },
  int16: { size: 2, read: (c) => c.int16() },
  uint32: { size: 4, read: (c) => c.uint32() },
  int32: { size: 4, read: (c) => c.int32() },
  float32: { size: 4, read: (c) => c.float32() },
  bool: { size: 1, read: (c) => c.uint8() !== 0 },
  string: { size: 8, read: () => undefined },
  uint64: { size: 8, read: (c) => c.uint64() },
  int64: { size: 8, read: (c) => c.int64() },
  float64: { size: 8, read: (c) => c.float64() },
};

function alignmentOf(metadata: GgufMetadata): number {
  const value = metadata["general.alignment"];
  if (value === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (value.type !== "uint32") {
    throw new GgufValidationError("bad_metadata", `general.alignment must be uint32, got ${value.type}`);
  }
  if (value.value === 0 || (value.value & (value.value - 1)) !== 0) {
    throw new GgufValidationError("bad_metadata", `general.alignment ${value.value} is not a power of two`);
  }
  return value.value;
}

interface RawTensorInfo {
  name: string;
  shape: number[];
  type: number;
  typeName: GgmlTypeName;
  elements: bigint;
  offset: bigint;
}

async function readTensorInfos(cursor: Cursor, count: number): Promise<RawTensorInfo[]> {
  const tensors: RawTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < count; i++) {
    const name = await cursor.string(`name of tensor ${i}`);
    if (Buffer.byteLength(name) >= GGML_MAX_NAME) {
      throw new GgufValidationError(
        "bad_tensor_info",
        `tensor name '${name}' is longer than ${GGML_MAX_NAME - 1} bytes`,
      );
    }
    if (names.has(name)) throw new GgufValidationError("bad_tensor_info", `duplicate tensor '${name}'`);
    names.add(name);
    tensors.push(await readTensorInfo(cursor, name));
  }
  return tensors;
}

async function readTensorInfo(cursor: Cursor, name: string): Promise<RawTensorInfo> {
  await cursor.need(4, `dimensions of tensor '${name}'`);
  const dims = cursor.uint32();
  if (dims > GGML_MAX_DIMS) {
    throw new GgufValidationError(
      "bad_tensor_info",
      `tensor '${name}' has ${dims} dimensions, at most ${GGML_MAX_DIMS}`,
    );
  }
  await cursor.need(dims * 8 + 12, `info of tensor '${name}'`);
  const ne = Array.from({ length: dims }, () => cursor.uint64());
  const type = cursor.uint32();
  const offset = cursor.uint64();
  const info = ggmlTypeInfo(type);
  if (!info)
    throw new GgufValidationError("unknown_tensor_type", `tensor '${name}' has unknown ggml type ${type}`);
  if (ne.some((n) => n > BigInt(Number.MAX_SAFE_INTEGER))) {
    throw new GgufValidationError(
      "bad_tensor_info",
      `tensor '${name}' has an impossible shape [${ne.join(", ")}]`,
    );
  }
  if ((ne[0] ?? 1n) % BigInt(info.blockSize) !== 0n) {
    throw new GgufValidationError(
      "bad_tensor_info",
      `tensor '${name}' has rows of ${ne[0]} values, not a multiple of the ${info.name} block size ${info.blockSize}`,
    );
  }
  const elements = ne.reduce((product, n) => product * n, 1n);
  return { name, shape: ne.map(Number), type, typeName: info.name, elements, offset };
}

function layOutTensors(
  raw: readonly RawTensorInfo[],
  layout: { dataOffset: number; alignment: number; fileSize: number },
): GgufTensorInfo[] {
  const alignment = BigInt(layout.alignment);
  let expectedOffset = 0n;
  return raw.map((tensor) => {
    if (tensor.offset !== expectedOffset) {
      throw new GgufValidationError(
        "bad_tensor_info",
        `tensor '${tensor.name}' has data offset ${tensor.offset}, expected ${expectedOffset}`,
      );
    }
    const info = ggmlTypeInfo(tensor.type)!;
    const byteSize = (tensor.elements / BigInt(info.blockSize)) * BigInt(info.typeSize);
    const end = BigInt(layout.dataOffset) + tensor.offset + byteSize;
    if (end > BigInt(layout.fileSize)) {
      throw new GgufValidationError(
        "truncated_tensor_data",
        `truncated tensor data: tensor '${tensor.name}' ends at byte ${end} but the file is ${layout.fileSize} bytes`,
      );
    }
    expectedOffset += byteSize + ((alignment - (byteSize % alignment)) % alignment);
    const { name, shape, type, typeName } = tensor;
    return { name, shape, type, typeName, offset: Number(tensor.offset), byteSize: Number(byteSize) };
  });
}

function padding(length: number, alignment: number): number {
  return (alignment - (length % alignment)) % alignment;
}
