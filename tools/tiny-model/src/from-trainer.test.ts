import { checkLlamaGguf, inspectGguf, serializeGguf } from "@sloughgpt/gguf";
import {
  parseTrainerWeights,
  TrainerWeightsError,
  trainerVocab,
  trainerWeightsToGguf,
} from "./from-trainer.js";

const dims = { embd: 8, ff: 16, heads: 2, layers: 1, vocab: trainerVocab().tokens.length };

/** PyTorch-order shapes, as train.py's gguf_tensors() writes them. */
function trainerShapes(): Array<[string, number[]]> {
  const { embd, ff, vocab } = dims;
  return [
    ["token_embd.weight", [vocab, embd]],
    ["output_norm.weight", [embd]],
    ["output.weight", [vocab, embd]],
    ...["attn_q", "attn_k", "attn_v", "attn_output"].map((n): [string, number[]] => [
      `blk.0.${n}.weight`,
      [embd, embd],
    ]),
    ["blk.0.attn_norm.weight", [embd]],
    ["blk.0.ffn_norm.weight", [embd]],
    ["blk.0.ffn_gate.weight", [ff, embd]],
    ["blk.0.ffn_up.weight", [ff, embd]],
    ["blk.0.ffn_down.weight", [embd, ff]],
  ];
}

const metadata = {
  format: "sloughgpt-trainer",
  version: "1",
  vocab: "sloughgpt-byte-spm-v1",
  name: "unit",
  embedding_length: String(dims.embd),
  block_count: String(dims.layers),
  feed_forward_length: String(dims.ff),
  head_count: String(dims.heads),
  head_count_kv: String(dims.heads),
  context_length: "64",
  rms_eps: "1e-05",
  steps: "10",
  final_eval_loss: "2.5",
};

/** A safetensors file like the trainer's: value i of each tensor is i / 1000. */
function safetensors(shapes = trainerShapes(), meta: Record<string, string> = metadata): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: meta };
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const [name, shape] of shapes) {
    const count = shape.reduce((a, b) => a * b, 1);
    chunks.push(Float32Array.from({ length: count }, (_, i) => i / 1000));
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const chunk of chunks) {
    out.set(new Uint8Array(chunk.buffer), at);
    at += chunk.byteLength;
  }
  return out;
}

const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

describe("trainer export to GGUF", () => {
  test("gives a llama GGUF with the trainer's hyperparameters, vocabulary and values", async () => {
    const gguf = trainerWeightsToGguf(parseTrainerWeights(safetensors()));
    const file = await inspectGguf(concat(serializeGguf(gguf)));
    const llama = checkLlamaGguf(file);
    expect(llama).toMatchObject({ embeddingLength: 8, blockCount: 1, headCount: 2, contextLength: 64 });
    expect(file.metadata["tokenizer.ggml.tokens"]?.value).toHaveLength(260);
    const embd = gguf.tensors.find((t) => t.name === "token_embd.weight");
    expect(embd?.shape).toEqual([8, 260]);
    expect(new Float32Array(embd!.data.slice().buffer).slice(0, 3)).toEqual(
      Float32Array.from([0, 0.001, 0.002]),
    );
  });

  test.each([
    ["a missing tensor", safetensors(trainerShapes().slice(1)), /missing tensor token_embd.weight/],
    [
      "a transposed tensor",
      safetensors(trainerShapes().map(([n, s]) => [n, n === "blk.0.ffn_up.weight" ? [...s].reverse() : s])),
      /ffn_up.weight has shape \[8, 16\], expected \[16, 8\]/,
    ],
    ["another vocabulary", safetensors(undefined, { ...metadata, vocab: "gpt2" }), /vocabulary gpt2/],
    ["a non-positive dimension", safetensors(undefined, { ...metadata, head_count: "0" }), /head_count/],
    ["a truncated file", safetensors().slice(0, 100), /header runs past the end/],
  ])("refuses %s", (_, bytes, message) => {
    const convert = () => trainerWeightsToGguf(parseTrainerWeights(bytes));
    expect(convert).toThrow(TrainerWeightsError);
    expect(convert).toThrow(message);
  });
});
