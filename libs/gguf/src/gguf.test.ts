import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GgmlType } from "./constants.js";
import { GgufValidationError } from "./errors.js";
import { kv } from "./metadata.js";
import { encodeTensorData } from "./quant.js";
import { inspectGguf, readTensorData } from "./reader.js";
import { encodeGguf, type GgufFileInput, serializeGguf, tensorByteSize, writeGgufFile } from "./writer.js";

const metadata = {
  "general.architecture": kv.string("llama"),
  "general.alignment": kv.uint32(32),
  "test.u8": kv.uint8(255),
  "test.i8": kv.int8(-128),
  "test.u16": kv.uint16(65535),
  "test.i16": kv.int16(-32768),
  "test.u32": kv.uint32(0xffffffff),
  "test.i32": kv.int32(-5),
  "test.f32": kv.float32(1.5),
  "test.f64": kv.float64(Math.PI),
  "test.u64": kv.uint64(2n ** 64n - 1n),
  "test.i64": kv.int64(-(2n ** 63n)),
  "test.bool": kv.bool(true),
  "test.string": kv.string("héllo ▁wörld"),
  "test.strings": kv.stringArray(["a", "", "▁the"]),
  "test.floats": kv.float32Array([0.5, -1, 2]),
  "test.ints": kv.int32Array([1, -2, 3]),
  "test.empty": kv.uint32Array([]),
};

const sample: GgufFileInput = {
  metadata,
  tensors: [
    { name: "a", shape: [3], type: GgmlType.F32, data: encodeTensorData(new Float32Array([1, 2, 3]), "F32") },
    {
      name: "b",
      shape: [32, 2],
      type: GgmlType.Q8_0,
      data: encodeTensorData(new Float32Array(64).fill(1), "Q8_0"),
    },
    {
      name: "c",
      shape: [4, 2, 3],
      type: GgmlType.F16,
      data: encodeTensorData(new Float32Array(24).fill(2), "F16"),
    },
  ],
};

describe("GGUF writer and reader", () => {
  test("round trip metadata of every value type, in order", async () => {
    const info = await inspectGguf(encodeGguf(sample));
    expect(info.version).toBe(3);
    expect(Object.keys(info.metadata)).toEqual(Object.keys(metadata));
    expect(info.metadata).toEqual(metadata);
  });

  test("lays tensors out at aligned offsets after an aligned header", async () => {
    const bytes = encodeGguf(sample);
    const info = await inspectGguf(bytes);
    expect(
      info.tensors.map(({ name, shape, typeName, offset, byteSize }) => ({
        name,
        shape,
        typeName,
        offset,
        byteSize,
      })),
    ).toEqual([
      { name: "a", shape: [3], typeName: "F32", offset: 0, byteSize: 12 },
      { name: "b", shape: [32, 2], typeName: "Q8_0", offset: 32, byteSize: 68 },
      { name: "c", shape: [4, 2, 3], typeName: "F16", offset: 128, byteSize: 48 },
    ]);
    expect(info.dataOffset % 32).toBe(0);
    expect(info.fileSize).toBe(bytes.length);
    expect(bytes.length).toBe(info.dataOffset + 128 + 48 + 16); // trailing padding, as llama.cpp writes it
    expect([...(await readTensorData(bytes, info, "a"))]).toEqual([...sample.tensors[0]!.data]);
  });

  test("starts with the GGUF magic and version 3", () => {
    const [header] = serializeGguf(sample);
    expect(Buffer.from(header!.subarray(0, 4)).toString("latin1")).toBe("GGUF");
    expect(new DataView(header!.buffer).getUint32(4, true)).toBe(3);
  });

  test("honours a non-default general.alignment", async () => {
    const info = await inspectGguf(
      encodeGguf({ ...sample, metadata: { ...metadata, "general.alignment": kv.uint32(64) } }),
    );
    expect(info.alignment).toBe(64);
    expect(info.dataOffset % 64).toBe(0);
    expect(info.tensors.map((t) => t.offset)).toEqual([0, 64, 192]);
  });

  test("reads files through a handle, across read windows", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "gguf-"));
    try {
      // ~1.9 MiB of tokens crosses the reader's 1 MiB window more than once.
      const tokens = Array.from({ length: 150_000 }, (_, i) => `tok${i}`);
      const input = { ...sample, metadata: { ...metadata, "tokenizer.ggml.tokens": kv.stringArray(tokens) } };
      const file = path.join(dir, "model.gguf");
      const { bytes } = await writeGgufFile(file, input);
      const info = await inspectGguf(file);
      expect(info.fileSize).toBe(bytes);
      expect(info.metadata["tokenizer.ggml.tokens"]?.value).toEqual(tokens);
      expect([...(await readTensorData(file, info, "c"))]).toEqual([...sample.tensors[2]!.data]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test.each([
    ["an out-of-range uint32", { "x.bad": kv.uint32(-1) }, /x\.bad.*uint32/],
    ["a fractional int32", { "x.bad": kv.int32(1.5) }, /x\.bad.*int32/],
    ["a bad alignment", { "general.alignment": kv.uint32(24) }, /alignment/],
  ])("refuses to write %s", (_, extra, message) => {
    expect(() => encodeGguf({ ...sample, metadata: { ...metadata, ...extra } })).toThrow(message);
  });

  test.each([
    [
      "data of the wrong size",
      { name: "x", shape: [4], type: GgmlType.F32, data: new Uint8Array(12) },
      /12 bytes/,
    ],
    [
      "a row length that is not a multiple of the block",
      { name: "x", shape: [16], type: GgmlType.Q8_0, data: new Uint8Array(17) },
      /block size 32/,
    ],
    ["a duplicate name", { ...sample.tensors[0]!, name: "a" }, /duplicate/],
    ["a 64-byte name", { ...sample.tensors[0]!, name: "n".repeat(64) }, /name/],
    [
      "five dimensions",
      { name: "x", shape: [1, 1, 1, 1, 1], type: GgmlType.F32, data: new Uint8Array(4) },
      /shape/,
    ],
  ])("refuses to write a tensor with %s", (_, tensor, message) => {
    expect(() => encodeGguf({ ...sample, tensors: [...sample.tensors, tensor] })).toThrow(message);
  });

  test("computes tensor sizes from block layout", () => {
    expect(tensorByteSize([256, 10], GgmlType.Q4_K)).toBe(1440);
    expect(tensorByteSize([64, 3, 2], GgmlType.F16)).toBe(768);
  });

  test("reports a missing file as the file system error, not a validation error", async () => {
    const error = await inspectGguf("/nonexistent/model.gguf").catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(GgufValidationError);
    expect((error as NodeJS.ErrnoException).code).toBe("ENOENT");
  });
});
