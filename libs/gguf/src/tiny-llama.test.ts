import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GgmlType, LlamaFileType } from "./constants.js";
import { validateLlamaGguf } from "./llama-validate.js";
import { quantizeQ4_0, quantizeQ8_0 } from "./quant.js";
import { quantizeQ4_K } from "./quant-k.js";
import { readTensorData } from "./reader.js";
import { BENCH_LLAMA_OPTIONS, buildTinyLlama, ensureTinyModel, TinyLlamaOptionsError } from "./tiny-llama.js";
import { encodeGguf } from "./writer.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("buildTinyLlama", () => {
  test("writes exactly these metadata keys", () => {
    expect(Object.keys(buildTinyLlama().metadata)).toEqual([
      "general.architecture",
      "general.name",
      "general.description",
      "general.alignment",
      "general.file_type",
      "llama.context_length",
      "llama.embedding_length",
      "llama.block_count",
      "llama.feed_forward_length",
      "llama.attention.head_count",
      "llama.attention.head_count_kv",
      "llama.attention.layer_norm_rms_epsilon",
      "llama.rope.dimension_count",
      "llama.vocab_size",
      "tokenizer.ggml.model",
      "tokenizer.ggml.tokens",
      "tokenizer.ggml.scores",
      "tokenizer.ggml.token_type",
      "tokenizer.ggml.bos_token_id",
      "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.unknown_token_id",
      "tokenizer.ggml.add_bos_token",
      "tokenizer.ggml.add_eos_token",
    ]);
  });

  test("has control, byte, then word-piece tokens with descending scores", () => {
    const { metadata } = buildTinyLlama();
    const tokens = metadata["tokenizer.ggml.tokens"]!.value as string[];
    const types = metadata["tokenizer.ggml.token_type"]!.value as number[];
    const scores = metadata["tokenizer.ggml.scores"]!.value as number[];
    expect(tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(tokens[258]).toBe("<0xFF>");
    expect(tokens).toContain("\u2581the");
    expect(types.slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect(types.slice(259).every((t) => t === 1)).toBe(true);
    expect(tokens.length).toBeGreaterThan(259 + 300);
    const pieceScores = scores.slice(259);
    expect(pieceScores.every((score, i) => i === 0 || score < pieceScores[i - 1]!)).toBe(true);
  });

  test("lays out llama tensors in GGUF ne order", () => {
    const model = buildTinyLlama({ headCountKv: 2, tensorType: "q8_0" });
    const shapes = Object.fromEntries(model.tensors.map((t) => [t.name, t.shape]));
    const vocab = (model.metadata["tokenizer.ggml.tokens"]!.value as string[]).length;
    expect(model.tensors).toHaveLength(3 + 2 * 9);
    expect(shapes).toMatchObject({
      "token_embd.weight": [64, vocab],
      "output_norm.weight": [64],
      "output.weight": [64, vocab],
      "blk.1.attn_norm.weight": [64],
      "blk.1.attn_q.weight": [64, 64],
      "blk.1.attn_k.weight": [64, 32],
      "blk.1.attn_v.weight": [64, 32],
      "blk.1.attn_output.weight": [64, 64],
      "blk.1.ffn_norm.weight": [64],
      "blk.1.ffn_gate.weight": [64, 128],
      "blk.1.ffn_down.weight": [128, 64],
      "blk.1.ffn_up.weight": [64, 128],
    });
  });

  test.each([
    ["f32", GgmlType.F32, GgmlType.F32, 0],
    ["f16", GgmlType.F16, GgmlType.F16, 1],
    ["q8_0", GgmlType.Q8_0, GgmlType.Q8_0, 7],
    ["q4_0", GgmlType.Q4_0, GgmlType.Q8_0, 2],
    // The default model's rows (64 and 128) are no multiple of 256, so every matrix falls back.
    ["q4_k", GgmlType.Q8_0, GgmlType.Q8_0, 14],
  ] as const)(
    "stores %s matrices as type %p (output.weight %p), norms as F32, with a matching file_type",
    (tensorType, type, outputType, fileType) => {
      const model = buildTinyLlama({ tensorType });
      expect(model.metadata["general.file_type"]).toEqual({ type: "uint32", value: fileType });
      for (const tensor of model.tensors) {
        const expected = tensor.name === "output.weight" ? outputType : type;
        expect(tensor.type).toBe(tensor.shape.length === 1 ? GgmlType.F32 : expected);
      }
    },
  );

  test("stores the f32 model's weights, quantized, and reads them back", async () => {
    const bytes = encodeGguf(buildTinyLlama({ tensorType: "q4_0" }));
    const info = await validateLlamaGguf(bytes);
    expect(info.llama.fileType).toBe(LlamaFileType.MOSTLY_Q4_0);
    const f32 = new Map(buildTinyLlama({ tensorType: "f32" }).tensors.map((t) => [t.name, t.data]));
    const weights = (name: string) => new Float32Array(f32.get(name)!.slice().buffer);

    const gate = await readTensorData(bytes, info, "blk.0.ffn_gate.weight");
    expect(info.tensors.find((t) => t.name === "blk.0.ffn_gate.weight")).toMatchObject({
      typeName: "Q4_0",
      byteSize: (64 * 128 * 18) / 32,
    });
    expect(Buffer.from(gate).equals(quantizeQ4_0(weights("blk.0.ffn_gate.weight")))).toBe(true);
    const output = await readTensorData(bytes, info, "output.weight");
    expect(Buffer.from(output).equals(quantizeQ8_0(weights("output.weight")))).toBe(true);
  });

  test("stores q4_k matrices as Q4_K where rows are a multiple of 256, else as Q8_0", async () => {
    const model = buildTinyLlama({ tensorType: "q4_k", embeddingLength: 256, feedForwardLength: 320 });
    const types = Object.fromEntries(model.tensors.map((t) => [t.name, t.type]));
    expect(types).toMatchObject({
      "token_embd.weight": GgmlType.Q4_K,
      "output_norm.weight": GgmlType.F32,
      "output.weight": GgmlType.Q8_0,
      "blk.1.attn_norm.weight": GgmlType.F32,
      "blk.1.attn_q.weight": GgmlType.Q4_K,
      "blk.1.attn_k.weight": GgmlType.Q4_K,
      "blk.1.attn_v.weight": GgmlType.Q4_K,
      "blk.1.attn_output.weight": GgmlType.Q4_K,
      "blk.1.ffn_gate.weight": GgmlType.Q4_K,
      "blk.1.ffn_up.weight": GgmlType.Q4_K,
      "blk.1.ffn_down.weight": GgmlType.Q8_0, // rows of 320
    });

    const bytes = encodeGguf(model);
    const info = await validateLlamaGguf(bytes);
    expect(info.llama.fileType).toBe(LlamaFileType.MOSTLY_Q4_K_S);
    expect(info.tensors.find((t) => t.name === "blk.0.ffn_gate.weight")).toMatchObject({
      typeName: "Q4_K",
      byteSize: (256 * 320 * 144) / 256,
    });
    const f32 = buildTinyLlama({ tensorType: "f32", embeddingLength: 256, feedForwardLength: 320 });
    const weights = (name: string) =>
      new Float32Array(f32.tensors.find((t) => t.name === name)!.data.slice().buffer);
    const gate = await readTensorData(bytes, info, "blk.0.ffn_gate.weight");
    expect(Buffer.from(gate).equals(quantizeQ4_K(weights("blk.0.ffn_gate.weight")))).toBe(true);
    const down = await readTensorData(bytes, info, "blk.0.ffn_down.weight");
    expect(Buffer.from(down).equals(quantizeQ8_0(weights("blk.0.ffn_down.weight")))).toBe(true);
  });

  test("is deterministic per seed", () => {
    const once = encodeGguf(buildTinyLlama({ seed: 7 }));
    expect(encodeGguf(buildTinyLlama({ seed: 7 })).equals(once)).toBe(true);
    expect(encodeGguf(buildTinyLlama({ seed: 8 })).equals(once)).toBe(false);
  });

  // Benchmarks and recorded outputs depend on these exact bytes; change the hash only on purpose.
  test("keeps the default model's bytes stable", () => {
    expect(sha256(encodeGguf(buildTinyLlama()))).toMatchInlineSnapshot(
      `"60dc6557059b993c9f46fecef1e0a8d81a85b074c2137608f9899ec344ecf538"`,
    );
  });

  test("builds the 8-layer, 512-wide benchmark model", async () => {
    const bytes = encodeGguf(buildTinyLlama({ ...BENCH_LLAMA_OPTIONS, tensorType: "q8_0" }));
    const info = await validateLlamaGguf(bytes);
    expect(info.llama).toMatchObject({ blockCount: 8, embeddingLength: 512, headDim: 64 });
  }, 30_000);

  test("builds the q4_k benchmark model, all Q4_K and the size of the q4_0 one", async () => {
    const bytes = encodeGguf(buildTinyLlama({ ...BENCH_LLAMA_OPTIONS, tensorType: "q4_k" }));
    const info = await validateLlamaGguf(bytes);
    const count = (typeName: string) => info.tensors.filter((t) => t.typeName === typeName).length;
    // 7 matrices in each of 8 blocks, plus token_embd; output.weight is Q8_0; 2 norms a block, plus 1.
    expect([count("Q4_K"), count("Q8_0"), count("F32")]).toEqual([57, 1, 17]);
    // Q4_K and Q4_0 both spend 144 bytes on 256 weights.
    const q4_0 = encodeGguf(buildTinyLlama({ ...BENCH_LLAMA_OPTIONS, tensorType: "q4_0" }));
    expect(bytes.length).toBe(q4_0.length);
  }, 60_000);

  test.each([
    [{ embeddingLength: 0 }, /embeddingLength/],
    [{ blockCount: 1.5 }, /blockCount/],
    [{ seed: -1 }, /seed/],
    [{ headCount: 3 }, /multiple of headCount/],
    [{ embeddingLength: 96, headCount: 32 }, /even/],
    [{ headCountKv: 3 }, /headCountKv/],
    [{ tensorType: "q8_0", feedForwardLength: 100 }, /multiples of 32/],
    [{ tensorType: "q4_0", embeddingLength: 48, headCount: 4 }, /multiples of 32/],
    [{ tensorType: "q4_k", embeddingLength: 272, headCount: 4 }, /multiples of 32/],
    [{ tensorType: "q5_0" }, /tensorType must be one of f32, f16, q8_0, q4_0, q4_k/],
    [{ rmsEps: 0 }, /rmsEps/],
  ])("rejects options %p", (options, message) => {
    expect(() => buildTinyLlama(options as never)).toThrow(TinyLlamaOptionsError);
    expect(() => buildTinyLlama(options as never)).toThrow(message);
  });
});

describe("ensureTinyModel", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tiny-model-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("creates the model once, in missing folders, then leaves it alone", async () => {
    const file = path.join(dir, "models", "tiny.gguf");
    const first = await ensureTinyModel(file, { tensorType: "q8_0" });
    expect(first).toMatchObject({ path: file, created: true });
    await expect(validateLlamaGguf(file)).resolves.toMatchObject({ llama: { fileType: 7 } });
    await expect(ensureTinyModel(file)).resolves.toEqual({ ...first, created: false });
  });

  test("does not overwrite an existing file", async () => {
    const file = path.join(dir, "tiny.gguf");
    await writeFile(file, "not a model");
    await expect(ensureTinyModel(file)).resolves.toMatchObject({ created: false, bytes: 11 });
  });

  test("is safe to call concurrently", async () => {
    const file = path.join(dir, "tiny.gguf");
    const results = await Promise.all([1, 2, 3].map(() => ensureTinyModel(file)));
    expect(new Set(results.map((r) => r.bytes)).size).toBe(1);
    await expect(validateLlamaGguf(file)).resolves.toBeDefined();
    expect(await readdir(dir)).toEqual(["tiny.gguf"]);
  });
});
