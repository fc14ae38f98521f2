import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { GgmlType } from "./constants.js";
import { type GgufErrorReason, GgufValidationError } from "./errors.js";
import { llamaBlockTensors, llamaGlobalTensors } from "./llama-layout.js";
import { REQUIRED_LLAMA_KEYS, validateLlamaGguf } from "./llama-validate.js";
import { type GgufMetadata, type GgufMetadataValue, kv } from "./metadata.js";
import { encodeTensorData } from "./quant.js";
import { buildTinyLlama } from "./tiny-llama.js";
import {
  encodeGguf,
  encodeGgufHeader,
  type GgufFileInput,
  type GgufTensorInput,
  tensorByteSize,
} from "./writer.js";

const base = buildTinyLlama({
  embeddingLength: 32,
  blockCount: 2,
  feedForwardLength: 64,
  headCount: 2,
  headCountKv: 1,
  tensorType: "f32",
});
const valid = encodeGguf(base);
const tokens = base.metadata["tokenizer.ggml.tokens"]!.value as string[];
const tokenTypes = base.metadata["tokenizer.ggml.token_type"]!.value as number[];

function encodeWith(change: Partial<GgufFileInput>): Buffer {
  return encodeGguf({ ...base, ...change });
}

function withMetadata(change: (metadata: GgufMetadata) => void): Buffer {
  const metadata = { ...base.metadata };
  change(metadata);
  return encodeWith({ metadata });
}

const withoutKey = (key: string) =>
  withMetadata((m) => {
    delete m[key];
  });
const withKey = (key: string, value: GgufMetadataValue) =>
  withMetadata((m) => {
    m[key] = value;
  });
const withoutTensor = (name: string) => encodeWith({ tensors: base.tensors.filter((t) => t.name !== name) });

function zeros(name: string, shape: number[]): GgufTensorInput {
  const data = encodeTensorData(new Float32Array(shape.reduce((a, b) => a * b, 1)), "F32");
  return { name, shape, type: GgmlType.F32, data };
}

function withShape(name: string, shape: number[]): Buffer {
  return encodeWith({ tensors: base.tensors.map((t) => (t.name === name ? zeros(name, shape) : t)) });
}

/** Replaces the tensors matching `pattern` with `extra(block)` in each block. */
function withBlockTensors(
  pattern: RegExp,
  extra: (block: number) => GgufTensorInput[],
  metadata = {},
): Buffer {
  const kept = base.tensors.filter((t) => !pattern.test(t.name));
  return encodeWith({
    metadata: { ...base.metadata, ...metadata },
    tensors: [...kept, ...[0, 1].flatMap(extra)],
  });
}

// 32-wide, 2 heads of 16, 1 KV head, FFN 64 (the base model).
const fusedQkv = () =>
  withBlockTensors(/attn_[qkv]\./, (i) => [zeros(`blk.${i}.attn_qkv.weight`, [32, 32 + 16 + 16])]);
const experts = (used: number) =>
  withBlockTensors(
    /ffn_(gate|up|down)\./,
    (i) => [
      zeros(`blk.${i}.ffn_gate_inp.weight`, [32, 4]),
      zeros(`blk.${i}.ffn_gate_exps.weight`, [32, 64, 4]),
      zeros(`blk.${i}.ffn_down_exps.weight`, [64, 32, 4]),
      zeros(`blk.${i}.ffn_up_exps.weight`, [32, 64, 4]),
    ],
    { "llama.expert_count": kv.uint32(4), "llama.expert_used_count": kv.uint32(used) },
  );

/** Byte offset just past the GGUF string `text` (its uint64 length prefix precedes it). */
function afterString(bytes: Uint8Array, text: string): number {
  const buffer = Buffer.from(bytes);
  const encoded = Buffer.from(text);
  for (let at = buffer.indexOf(encoded); at >= 0; at = buffer.indexOf(encoded, at + 1)) {
    if (at >= 8 && buffer.readBigUInt64LE(at - 8) === BigInt(encoded.length)) return at + encoded.length;
  }
  throw new Error(`string ${text} not found`);
}

function patched(bytes: Uint8Array, edit: (buffer: Buffer) => void): Buffer {
  const copy = Buffer.from(bytes);
  edit(copy);
  return copy;
}

const patchU32 = (at: (b: Buffer) => number, value: number, bytes: Uint8Array = valid) =>
  patched(bytes, (b) => b.writeUInt32LE(value, at(b)));
// A 2-D tensor's info after its name: n_dims (4), ne (2 x 8), type (4), offset (8).
const tensorType = (name: string) => (b: Buffer) => afterString(b, name) + 4 + 16;
const tensorOffset = (name: string) => (b: Buffer) => afterString(b, name) + 4 + 16 + 4;

// Q4_K matrices (rows of 256), except ffn_down (rows of 320, Q8_0) and output.weight (Q8_0).
const q4k = encodeGguf(
  buildTinyLlama({ embeddingLength: 256, feedForwardLength: 320, headCount: 4, tensorType: "q4_k" }),
);

type Case = readonly [string, () => Uint8Array, GgufErrorReason, RegExp];

const cases: readonly Case[] = [
  ["an empty file", () => new Uint8Array(0), "truncated", /too short/],
  ["bad magic", () => patched(valid, (b) => b.write("GGML", 0, "latin1")), "bad_magic", /"GGML"/],
  ["GGUF v1", () => patchU32(() => 4, 1), "unsupported_version", /version 1/],
  ["GGUF v4", () => patchU32(() => 4, 4), "unsupported_version", /version 4/],
  ["a big-endian file", () => patchU32(() => 4, 0x03000000), "unsupported_version", /big-endian/],
  ["a truncated header", () => valid.subarray(0, 12), "truncated", /header/],
  ["truncated metadata", () => valid.subarray(0, 2000), "truncated", /tokenizer\.ggml\.tokens/],
  [
    "truncated tensor infos",
    () => valid.subarray(0, afterString(valid, "blk.1.ffn_up.weight")),
    "truncated",
    /blk\.1\.ffn_up/,
  ],
  [
    "truncated tensor data",
    () => valid.subarray(0, valid.length - 1),
    "truncated_tensor_data",
    /blk\.1\.ffn_up\.weight/,
  ],
  [
    "a tensor count beyond the file",
    () => patched(valid, (b) => b.writeBigUInt64LE(1n << 40n, 8)),
    "truncated",
    /tensors/,
  ],
  [
    "an unknown value type",
    () => patchU32((b) => afterString(b, "general.name"), 13),
    "bad_metadata",
    /general\.name.*type 13/,
  ],
  [
    "a nested array",
    () => patchU32((b) => afterString(b, "tokenizer.ggml.scores") + 4, 9),
    "bad_metadata",
    /nested/,
  ],
  [
    "a duplicate key",
    () => patched(valid, (b) => b.write("add_bos", afterString(b, "tokenizer.ggml.add_eos_token") - 13)),
    "bad_metadata",
    /duplicate.*add_bos/,
  ],
  [
    "an alignment that is not a power of two",
    () => patchU32((b) => afterString(b, "general.alignment") + 4, 24),
    "bad_metadata",
    /alignment/,
  ],
  [
    "an unknown tensor type",
    () => patchU32(tensorType("blk.0.attn_q.weight"), 99),
    "unknown_tensor_type",
    /blk\.0\.attn_q\.weight.*99/,
  ],
  [
    "a row not a multiple of the block size",
    () => patchU32(tensorType("blk.0.attn_q.weight"), GgmlType.Q4_K),
    "bad_tensor_info",
    /block size 256/,
  ],
  [
    // 256 x 256 values are 36,864 bytes of Q4_K but 69,632 of Q8_0, so the next tensor overlaps.
    "a Q4_K tensor declared as Q8_0",
    () => patchU32(tensorType("blk.0.attn_q.weight"), GgmlType.Q8_0, q4k),
    "bad_tensor_info",
    /blk\.0\.attn_k\.weight.*offset/,
  ],
  [
    "a Q8_0 tensor with rows of 320 declared as Q4_K",
    () => patchU32(tensorType("blk.1.ffn_down.weight"), GgmlType.Q4_K, q4k),
    "bad_tensor_info",
    /blk\.1\.ffn_down\.weight.*320.*Q4_K block size 256/,
  ],
  [
    "truncated Q4_K data",
    () => q4k.subarray(0, q4k.length - 144),
    "truncated_tensor_data",
    /blk\.1\.ffn_up\.weight/,
  ],
  [
    "five dimensions",
    () => patchU32((b) => afterString(b, "output.weight"), 5),
    "bad_tensor_info",
    /output\.weight.*5 dimensions/,
  ],
  [
    "a misplaced tensor offset",
    () => patched(valid, (b) => b.writeBigUInt64LE(32n, tensorOffset("output.weight")(b))),
    "bad_tensor_info",
    /output\.weight.*offset 32/,
  ],
  [
    "another architecture",
    () => withKey("general.architecture", kv.string("gpt2")),
    "wrong_architecture",
    /'gpt2'/,
  ],
  ...[...REQUIRED_LLAMA_KEYS, "tokenizer.ggml.scores"].map(
    (key): Case => [
      `no ${key}`,
      () => withoutKey(key),
      "missing_key",
      new RegExp(`'${key.replaceAll(".", "\\.")}'`),
    ],
  ),
  [
    "an int32 context length",
    () => withKey("llama.context_length", kv.int32(512)),
    "bad_key",
    /context_length.*uint32, got int32/,
  ],
  [
    "a float64 rms epsilon",
    () => withKey("llama.attention.layer_norm_rms_epsilon", kv.float64(1e-5)),
    "bad_key",
    /float32/,
  ],
  [
    "a uint32 token_type array",
    () => withKey("tokenizer.ggml.token_type", kv.uint32Array(tokenTypes)),
    "bad_key",
    /token_type.*array of int32/,
  ],
  ["zero blocks", () => withKey("llama.block_count", kv.uint32(0)), "bad_key", /block_count/],
  ["513 blocks", () => withKey("llama.block_count", kv.uint32(513)), "bad_key", /block_count.*512/],
  [
    "KV heads not dividing heads",
    () => withKey("llama.attention.head_count_kv", kv.uint32(3)),
    "bad_key",
    /head_count_kv/,
  ],
  [
    "a per-block array of the wrong length",
    () => withKey("llama.feed_forward_length", kv.uint32Array([64])),
    "bad_key",
    /one per block/,
  ],
  [
    "a rope size other than the head size",
    () => withKey("llama.rope.dimension_count", kv.uint32(8)),
    "bad_key",
    /rope\.dimension_count/,
  ],
  [
    "an unknown rope scaling",
    () => withKey("llama.rope.scaling.type", kv.string("magic")),
    "bad_key",
    /scaling/,
  ],
  [
    "too few scores",
    () => withKey("tokenizer.ggml.scores", kv.float32Array([0, 1])),
    "inconsistent_tokens",
    /scores has 2 entries/,
  ],
  [
    "too many token types",
    () => withKey("tokenizer.ggml.token_type", kv.int32Array([...tokenTypes, 1])),
    "inconsistent_tokens",
    /token_type/,
  ],
  [
    "a vocab_size that disagrees",
    () => withKey("llama.vocab_size", kv.uint32(tokens.length + 1)),
    "inconsistent_tokens",
    /vocab_size/,
  ],
  [
    "a duplicate token",
    () =>
      withKey("tokenizer.ggml.tokens", kv.stringArray(tokens.map((t, i) => (i === 300 ? tokens[299]! : t)))),
    "inconsistent_tokens",
    /ids 299 and 300/,
  ],
  [
    "a malformed byte token",
    () => withKey("tokenizer.ggml.tokens", kv.stringArray(tokens.map((t, i) => (i === 3 ? "<0xZZ>" : t)))),
    "inconsistent_tokens",
    /<0xZZ>/,
  ],
  [
    "a missing byte token",
    () =>
      withMetadata((m) => {
        m["tokenizer.ggml.tokens"] = kv.stringArray(tokens.map((t, i) => (i === 3 ? "<nul>" : t)));
        m["tokenizer.ggml.token_type"] = kv.int32Array(tokenTypes.map((t, i) => (i === 3 ? 1 : t)));
      }),
    "inconsistent_tokens",
    /<0x00>/,
  ],
  [
    "an out-of-range BOS id",
    () => withKey("tokenizer.ggml.bos_token_id", kv.uint32(tokens.length)),
    "bad_key",
    /bos_token_id/,
  ],
  ["no token_embd", () => withoutTensor("token_embd.weight"), "missing_tensor", /'token_embd\.weight'/],
  [
    "no blk.1.ffn_up",
    () => withoutTensor("blk.1.ffn_up.weight"),
    "missing_tensor",
    /'blk\.1\.ffn_up\.weight'/,
  ],
  ["no attn_norm", () => withoutTensor("blk.0.attn_norm.weight"), "missing_tensor", /blk\.0\.attn_norm/],
  [
    "a K projection sized for all heads",
    () => withShape("blk.0.attn_k.weight", [32, 32]),
    "bad_tensor_shape",
    /attn_k.*\[32, 32\], expected \[32, 16\]/,
  ],
  [
    "a transposed FFN down",
    () => withShape("blk.1.ffn_down.weight", [32, 64]),
    "bad_tensor_shape",
    /ffn_down.*expected \[64, 32\]/,
  ],
  ["more experts used than exist", () => experts(5), "bad_key", /expert_used_count/],
  [
    "an expert FFN without its router",
    () =>
      withBlockTensors(/ffn_(gate|up|down)\./, () => [], {
        "llama.expert_count": kv.uint32(4),
        "llama.expert_used_count": kv.uint32(2),
      }),
    "missing_tensor",
    /ffn_gate_inp/,
  ],
  [
    "an embedding for a smaller vocab",
    () => withShape("token_embd.weight", [32, 100]),
    "bad_tensor_shape",
    /token_embd/,
  ],
];

describe("validateLlamaGguf", () => {
  test("accepts the generated model and reports its hyperparameters", async () => {
    const info = await validateLlamaGguf(valid);
    expect(info.llama).toEqual({
      name: "sloughgpt-tiny-llama",
      fileType: 0,
      contextLength: 512,
      embeddingLength: 32,
      blockCount: 2,
      feedForwardLength: 64,
      headCount: 2,
      headCountKv: 1,
      headDim: 16,
      rmsEps: Math.fround(1e-5),
      expertCount: 0,
      vocabSize: tokens.length,
      tokenizerModel: "llama",
      bosTokenId: 1,
      eosTokenId: 2,
    });
  });

  test.each([
    ["without output.weight (tied embeddings)", () => withoutTensor("output.weight")],
    [
      "without the optional keys llama.cpp defaults",
      () =>
        withMetadata((m) => {
          for (const key of [
            "general.alignment",
            "general.name",
            "general.file_type",
            "llama.vocab_size",
            "llama.rope.dimension_count",
          ])
            delete m[key];
        }),
    ],
    [
      "without head_count_kv when every head has its own K/V",
      () => {
        const model = buildTinyLlama({
          embeddingLength: 32,
          headCount: 2,
          headCountKv: 2,
          tensorType: "f32",
        });
        delete model.metadata["llama.attention.head_count_kv"];
        return encodeGguf(model);
      },
    ],
    ["with per-block FFN sizes", () => withKey("llama.feed_forward_length", kv.uint32Array([64, 64]))],
    ["with fused QKV projections", fusedQkv],
    ["with mixture-of-experts FFNs", () => experts(2)],
    ["with Q4_K matrices", () => q4k],
  ])("accepts a model %s", async (_, bytes) => {
    await expect(validateLlamaGguf(bytes())).resolves.toMatchObject({ llama: { blockCount: 2 } });
  });

  test.each(cases)("rejects %s", async (_, bytes, reason, message) => {
    const error = await validateLlamaGguf(bytes()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GgufValidationError);
    expect(error).toMatchObject({
      name: "GgufValidationError",
      reason,
      message: expect.stringMatching(message),
    });
  });

  test("the generated file ends exactly where the last tensor ends", async () => {
    const info = await validateLlamaGguf(valid);
    const last = info.tensors.at(-1)!;
    expect(info.dataOffset + last.offset + last.byteSize).toBe(valid.length);
  });

  // With no trailing padding (checked above), every proper prefix cuts something llama.cpp needs.
  test("rejects every truncation with GgufValidationError", async () => {
    const { dataOffset } = await validateLlamaGguf(valid);
    // Half the cuts land in the header, which is small next to the tensor data.
    const cut = fc.oneof(
      fc.integer({ min: 0, max: dataOffset }),
      fc.integer({ min: 0, max: valid.length - 1 }),
    );
    await fc.assert(
      fc.asyncProperty(cut, async (length) => {
        await expect(validateLlamaGguf(valid.subarray(0, length))).rejects.toBeInstanceOf(
          GgufValidationError,
        );
      }),
      { numRuns: 300 },
    );
  });

  test("never throws anything but GgufValidationError on corrupted headers", async () => {
    const { dataOffset } = await validateLlamaGguf(valid);
    const edit = fc.tuple(fc.integer({ min: 0, max: dataOffset - 1 }), fc.integer({ min: 0, max: 255 }));
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
        const corrupted = patched(valid, (b) => {
          for (const [at, value] of edits) b[at] = value;
        });
        const outcome = await validateLlamaGguf(corrupted).catch((e: unknown) => e);
        if (outcome instanceof Error && !(outcome instanceof GgufValidationError)) throw outcome;
      }),
      { numRuns: 300 },
    );
  });

  test("validates a multi-GB model from its header alone", async () => {
    const dims = {
      embeddingLength: 8192,
      feedForwardLength: 28672,
      headCount: 64,
      headCountKv: 8,
      headDim: 128,
    };
    const metadata = {
      ...base.metadata,
      "llama.block_count": kv.uint32(4),
      "llama.embedding_length": kv.uint32(dims.embeddingLength),
      "llama.feed_forward_length": kv.uint32(dims.feedForwardLength),
      "llama.attention.head_count": kv.uint32(dims.headCount),
      "llama.attention.head_count_kv": kv.uint32(dims.headCountKv),
      "llama.rope.dimension_count": kv.uint32(dims.headDim),
    };
    const shapes = [
      ...llamaGlobalTensors(dims.embeddingLength, tokens.length),
      ...[0, 1, 2, 3].flatMap((i) => llamaBlockTensors(i, dims)),
    ];
    const tensors = shapes.map((t) => ({ ...t, type: t.shape.length === 1 ? GgmlType.F32 : GgmlType.F16 }));
    const header = encodeGgufHeader(metadata, tensors);
    const dataBytes = tensors.reduce(
      (total, t) => total + Math.ceil(tensorByteSize(t.shape, t.type) / 32) * 32,
      0,
    );
    const size = header.length + dataBytes;
    expect(size).toBeGreaterThan(2 ** 32);

    const dir = await mkdtemp(path.join(os.tmpdir(), "gguf-large-"));
    const file = path.join(dir, "large.gguf");
    try {
      // A sparse file: the header is real, the 4+ GiB of tensor data are holes.
      await writeFile(file, header);
      await truncate(file, size);
      await expect(validateLlamaGguf(file)).resolves.toMatchObject({
        fileSize: size,
        llama: { headDim: 128 },
      });

      await truncate(file, size - 33);
      const error = await validateLlamaGguf(file).catch((e: unknown) => e);
      expect(error).toMatchObject({
        reason: "truncated_tensor_data",
        message: expect.stringMatching(/blk\.3\.ffn_up/),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
