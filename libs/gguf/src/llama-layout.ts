/** Dimensions that fix the shape of one LLaMA block. */
export interface LlamaBlockDims {
  readonly embeddingLength: number;
  readonly feedForwardLength: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly headDim: number;
}

export interface TensorShape {
  readonly name: string;
  /** GGUF `ne` order: shape[0] is the input dimension / row length. */
  readonly shape: readonly number[];
}

/** token_embd, output_norm and output, as llama.cpp's llama architecture creates them. */
export function llamaGlobalTensors(embeddingLength: number, vocabSize: number): TensorShape[] {
  return [
    { name: "token_embd.weight", shape: [embeddingLength, vocabSize] },
    { name: "output_norm.weight", shape: [embeddingLength] },
    { name: "output.weight", shape: [embeddingLength, vocabSize] },
  ];
}

/** The tensors of block `index` with separate Q/K/V projections and a dense SwiGLU FFN. */
export function llamaBlockTensors(index: number, dims: LlamaBlockDims): TensorShape[] {
  const { embeddingLength: embd, feedForwardLength: ff, headDim } = dims;
  const block = (suffix: string, shape: number[]) => ({ name: `blk.${index}.${suffix}.weight`, shape });
  return [
    block("attn_norm", [embd]),
    block("attn_q", [embd, headDim * dims.headCount]),
    block("attn_k", [embd, headDim * dims.headCountKv]),
    block("attn_v", [embd, headDim * dims.headCountKv]),
    block("attn_output", [headDim * dims.headCount, embd]),
    block("ffn_norm", [embd]),
    block("ffn_gate", [embd, ff]),
    block("ffn_down", [ff, embd]),
    block("ffn_up", [embd, ff]),
  ];
}
