import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Llama } from "node-llama-cpp";
import { GgmlType, LlamaFileType } from "./constants.js";
import { validateLlamaGguf } from "./llama-validate.js";
import { kv } from "./metadata.js";
import { dequantizeQ8_0, float32ToBytes } from "./quant.js";
import { dequantizeQ4_K } from "./quant-k.js";
import { buildTinyLlama, type TinyLlamaOptions, type TinyLlamaTensorType } from "./tiny-llama.js";
import { type GgufFileInput, writeGgufFile } from "./writer.js";

// Loads the generated models with the real llama.cpp (CPU build, prebuilt binaries).
// One thread: llama.cpp's default thread count is far slower on small CI machines.
// q4_k needs rows that are multiples of 256 to hold any Q4_K; FFN 320 keeps ffn_down on its Q8_0 fallback.
const models: ReadonlyArray<readonly [TinyLlamaTensorType, TinyLlamaOptions]> = [
  ["f32", {}],
  ["f16", {}],
  ["q8_0", {}],
  ["q4_0", {}],
  ["q4_k", { embeddingLength: 256, feedForwardLength: 320 }],
];

describe("generated models in llama.cpp", () => {
  let llama: Llama;
  let dir: string;

  beforeAll(async () => {
    const { getLlama } = await import("node-llama-cpp");
    llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
    dir = await mkdtemp(path.join(os.tmpdir(), "tiny-llama-"));
  });

  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test.each(models)(
    "loads the %s model and generates the same greedy text twice",
    async (tensorType, options) => {
      const { LlamaCompletion } = await import("node-llama-cpp");
      const modelPath = path.join(dir, `tiny-${tensorType}.gguf`);
      await writeGgufFile(modelPath, buildTinyLlama({ ...options, tensorType }));
      const { tensors } = await validateLlamaGguf(modelPath);
      if (tensorType === "q4_k") expect(tensors.filter((t) => t.typeName === "Q4_K")).not.toHaveLength(0);

      const model = await llama.loadModel({ modelPath });
      try {
        expect(model.fileInfo.metadata.general.architecture).toBe("llama");
        const context = await model.createContext({ sequences: 2, contextSize: 256, threads: 1 });
        const generate = (contextSequence: ReturnType<typeof context.getSequence>) =>
          new LlamaCompletion({ contextSequence }).generateCompletion("Once upon a time", {
            maxTokens: 24,
            temperature: 0,
          });
        const first = await generate(context.getSequence());
        const second = await generate(context.getSequence());

        expect(second).toBe(first);
        // Word pieces only: byte and control tokens never win, so no stray bytes or U+FFFD.
        expect(first).toMatch(/^[a-z ,.!?';:-]{20,}$/);
        expect(first.trim().split(/\s+/).length).toBeGreaterThan(5);
        await context.dispose();
      } finally {
        await model.dispose();
      }
    },
    30_000,
  );

  // If llama.cpp read the Q4_K bytes differently from dequantizeQ4_K (nibble order, scale packing),
  // the logits would be unrelated. They differ only by llama.cpp's 8-bit quantization of activations
  // for Q4_K dot products: about 1% RMS here, against 13% between the dequantized and original weights.
  test("reads Q4_K weights as dequantizeQ4_K does", async () => {
    const q4k = buildTinyLlama({ embeddingLength: 256, feedForwardLength: 320, tensorType: "q4_k" });
    const quantized = await lastLogits(q4k, "logits-q4k.gguf");
    const dequantized = await lastLogits(dequantizedToF32(q4k), "logits-f32.gguf");
    expect(quantized.length).toBe(dequantized.length);
    const rms = (values: number[]) => Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);
    const difference = rms(quantized.map((logit, i) => logit - dequantized[i]!));
    expect(difference).toBeLessThan(0.04 * rms(dequantized));
  });

  async function lastLogits(input: GgufFileInput, file: string): Promise<number[]> {
    const modelPath = path.join(dir, file);
    await writeGgufFile(modelPath, input);
    const model = await llama.loadModel({ modelPath });
    try {
      const context = await model.createContext({ contextSize: 256, threads: 1 });
      const tokens = model.tokenize("Once upon a time the people said", true);
      const last = tokens.length - 1;
      const output = await context
        .getSequence()
        .controlledEvaluate(
          tokens.map((token, i) => (i === last ? [token, { generateNext: { logits: true } }] : token)),
        );
      await context.dispose();
      const logits = output[last]!.next.logits!;
      return [...logits.keys()].sort((a, b) => a - b).map((token) => logits.get(token)!);
    } finally {
      await model.dispose();
    }
  }

  test("tokenizes text into the word pieces and byte fallbacks", async () => {
    const modelPath = path.join(dir, "tiny-tokenize.gguf");
    await writeGgufFile(modelPath, buildTinyLlama({ tensorType: "q8_0" }));
    const model = await llama.loadModel({ modelPath });
    try {
      const text = "the people said ünïcode!";
      const tokens = model.tokenize(text);
      expect(model.detokenize(tokens)).toBe(text);
      expect(tokens.length).toBeLessThan(text.length);
    } finally {
      await model.dispose();
    }
  });
});

/** The same model with every quantized tensor stored as F32 of its dequantized values. */
function dequantizedToF32(input: GgufFileInput): GgufFileInput {
  const dequantizers: Record<number, (data: Uint8Array) => Float32Array> = {
    [GgmlType.Q4_K]: dequantizeQ4_K,
    [GgmlType.Q8_0]: dequantizeQ8_0,
  };
  return {
    metadata: { ...input.metadata, "general.file_type": kv.uint32(LlamaFileType.ALL_F32) },
    tensors: input.tensors.map((tensor) => {
      const dequantize = dequantizers[tensor.type];
      if (!dequantize) return tensor;
      return { ...tensor, type: GgmlType.F32, data: float32ToBytes(dequantize(tensor.data)) };
    }),
  };
}
