import { GgufValidationError } from "./errors.js";
import {
  type LlamaBlockDims,
  llamaBlockTensors,
  llamaGlobalTensors,
  type TensorShape,
} from "./llama-layout.js";
import type { GgufTensorInfo } from "./reader.js";

/** Per-block hyperparameters (llama.cpp allows some keys to vary by block). */
export interface Blocks {
  readonly count: number;
  readonly feedForward: number[];
  readonly heads: number[];
  readonly headsKv: number[];
  readonly headDim: number;
  readonly experts: number;
}

export interface TensorExpectations {
  readonly embeddingLength: number;
  readonly vocabSize: number;
  readonly blocks: Blocks;
}

/** Checks that every tensor the llama architecture needs exists with the shape llama.cpp expects. */
export function checkTensors(tensors: readonly GgufTensorInfo[], expected: TensorExpectations): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const [tokenEmbd, outputNorm, output] = llamaGlobalTensors(expected.embeddingLength, expected.vocabSize);
  expectTensor(byName, tokenEmbd!);
  expectTensor(byName, outputNorm!);
  expectTensor(byName, output!, "optional");
  for (let i = 0; i < expected.blocks.count; i++) checkBlock(byName, i, expected);
}

function checkBlock(byName: Map<string, GgufTensorInfo>, index: number, expected: TensorExpectations): void {
  const { blocks, embeddingLength } = expected;
  const dims: LlamaBlockDims = {
    embeddingLength,
    feedForwardLength: blocks.feedForward[index]!,
    headCount: blocks.heads[index]!,
    headCountKv: blocks.headsKv[index]!,
    headDim: blocks.headDim,
  };
  const [attnNorm, q, k, v, attnOut, ffnNorm, gate, down, up] = llamaBlockTensors(index, dims);
  expectTensor(byName, attnNorm!);
  const fused = `blk.${index}.attn_qkv.weight`;
  if (byName.has(fused)) {
    expectTensor(byName, {
      name: fused,
      shape: [embeddingLength, q!.shape[1]! + k!.shape[1]! + v!.shape[1]!],
    });
  } else {
    for (const projection of [q, k, v]) expectTensor(byName, projection!);
  }
  expectTensor(byName, attnOut!);
  expectTensor(byName, ffnNorm!);
  if (blocks.experts === 0) {
    for (const projection of [gate, down, up]) expectTensor(byName, projection!);
    return;
  }
  const ff = dims.feedForwardLength;
  const block = (suffix: string) => `blk.${index}.${suffix}.weight`;
  expectTensor(byName, { name: block("ffn_gate_inp"), shape: [embeddingLength, blocks.experts] });
  expectTensor(
    byName,
    { name: block("ffn_gate_exps"), shape: [embeddingLength, ff, blocks.experts] },
    "optional",
  );
  expectTensor(byName, { name: block("ffn_down_exps"), shape: [ff, embeddingLength, blocks.experts] });
  expectTensor(byName, { name: block("ffn_up_exps"), shape: [embeddingLength, ff, blocks.experts] });
}

function expectTensor(
  byName: Map<string, GgufTensorInfo>,
  expected: TensorShape,
  optional?: "optional",
): void {
  const tensor = byName.get(expected.name);
  if (!tensor) {
    if (optional) return;
    throw new GgufValidationError("missing_tensor", `missing tensor '${expected.name}'`);
  }
  // ggml pads shapes to 4 dimensions with 1s, so [64] and [64, 1] are the same shape.
  const padded = (shape: readonly number[]) => [0, 1, 2, 3].map((i) => shape[i] ?? 1).join(",");
  if (padded(tensor.shape) !== padded(expected.shape)) {
    throw new GgufValidationError(
      "bad_tensor_shape",
      `tensor '${expected.name}' has shape [${tensor.shape.join(", ")}], expected [${expected.shape.join(", ")}]`,
    );
  }
}
