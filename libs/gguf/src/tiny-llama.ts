import { stat } from "node:fs/promises";
import { GGUF_DEFAULT_ALIGNMENT, GgmlType, ggmlTypeInfo, LlamaFileType, TokenType } from "./constants.js";
import {
  type LlamaBlockDims,
  llamaBlockTensors,
  llamaGlobalTensors,
  type TensorShape,
} from "./llama-layout.js";
import { type GgufMetadata, kv } from "./metadata.js";
import { type EncodableTensorType, encodeTensorData } from "./quant.js";
import { fillGaussian, hashString, mulberry32 } from "./random.js";
import { buildSpmVocab, type LlamaVocab } from "./vocab.js";
import { type GgufFileInput, type GgufTensorInput, writeGgufFile } from "./writer.js";

export type TinyLlamaTensorType = "f32" | "f16" | "q8_0" | "q4_0" | "q4_k";

export interface TinyLlamaOptions {
  /** uint32; the same options and seed always give the same bytes. */
  readonly seed?: number;
  readonly vocab?: LlamaVocab;
  readonly embeddingLength?: number;
  readonly blockCount?: number;
  readonly feedForwardLength?: number;
  readonly headCount?: number;
  readonly headCountKv?: number;
  readonly contextLength?: number;
  readonly rmsEps?: number;
  /**
   * Type of the 2-D weight matrices (q4_0 and q4_k keep output.weight at Q8_0; q4_k stores rows that
   * are not a multiple of 256 as Q8_0); norms stay F32.
   */
  readonly tensorType?: TinyLlamaTensorType;
  readonly name?: string;
}

export type ResolvedTinyLlamaOptions = Required<TinyLlamaOptions>;

export const TINY_LLAMA_DEFAULTS: Omit<ResolvedTinyLlamaOptions, "vocab"> = {
  seed: 42,
  embeddingLength: 64,
  blockCount: 2,
  feedForwardLength: 128,
  headCount: 4,
  headCountKv: 4,
  contextLength: 512,
  rmsEps: 1e-5,
  tensorType: "f16",
  name: "sloughgpt-tiny-llama",
};

/** An 8-layer, 512-wide model (about 28M parameters) for benchmarks. */
export const BENCH_LLAMA_OPTIONS: TinyLlamaOptions = {
  embeddingLength: 512,
  blockCount: 8,
  feedForwardLength: 1536,
  headCount: 8,
  headCountKv: 8,
  contextLength: 2048,
  name: "sloughgpt-bench-llama",
};

export class TinyLlamaOptionsError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "TinyLlamaOptionsError";
  }
}

interface TensorTypePlan {
  readonly matrices: EncodableTensorType;
  /** For matrices whose rows are not a multiple of the `matrices` block size. */
  readonly fallback?: EncodableTensorType;
  readonly output: EncodableTensorType;
  readonly fileType: number;
}

const tensorTypes: Record<TinyLlamaTensorType, TensorTypePlan> = {
  f32: { matrices: "F32", output: "F32", fileType: LlamaFileType.ALL_F32 },
  f16: { matrices: "F16", output: "F16", fileType: LlamaFileType.MOSTLY_F16 },
  q8_0: { matrices: "Q8_0", output: "Q8_0", fileType: LlamaFileType.MOSTLY_Q8_0 },
  // llama.cpp's quantizer gives a Q4_0 file's output.weight Q6_K, or Q8_0 where rows are not a
  // multiple of 256 (as in the default 64-wide model). This library writes no Q6_K, so
  // output.weight always takes that Q8_0 fallback; the logits come straight from this matrix.
  q4_0: { matrices: "Q4_0", output: "Q8_0", fileType: LlamaFileType.MOSTLY_Q4_0 },
  // Q4_K for every matrix with rows a multiple of 256, token_embd included, as llama.cpp's Q4_K_S and
  // Q4_K_M do. For other rows llama.cpp falls back to Q5_0, which this library does not write; Q8_0 is
  // the type here that is no less precise. output.weight is Q8_0 for the same reason as in q4_0.
  // The file type is Q4_K_S: that preset only adds Q5_K to attn_v in blocks 0-3 and to ffn_down in
  // the first eighth of the blocks, where Q4_K_M gives Q6_K to about half of all attn_v and ffn_down.
  // Like llama.cpp, the file type names the preset even when every row falls back (as in the default
  // 64-wide model).
  q4_k: { matrices: "Q4_K", fallback: "Q8_0", output: "Q8_0", fileType: LlamaFileType.MOSTLY_Q4_K_S },
};

// Logit spread of the random output layer: wide enough that sampling at temperature 1
// mostly picks word pieces rather than the (zero-logit) byte and control tokens.
const OUTPUT_LOGIT_DEVIATION = 3;

export function resolveTinyLlamaOptions(opts: TinyLlamaOptions = {}): ResolvedTinyLlamaOptions {
  const resolved = {
    ...TINY_LLAMA_DEFAULTS,
    vocab: opts.vocab ?? buildSpmVocab(),
    ...withoutUndefined(opts),
  };
  checkOptions(resolved);
  return resolved;
}

/**
 * A valid LLaMA-architecture GGUF with seeded random weights and a SentencePiece-style
 * vocabulary. It loads and generates (gibberish words) in llama.cpp; it is for tests and
 * benchmarks, not for quality.
 */
export function buildTinyLlama(opts: TinyLlamaOptions = {}): GgufFileInput {
  const options = resolveTinyLlamaOptions(opts);
  return { metadata: tinyLlamaMetadata(options), tensors: tinyLlamaTensors(options) };
}

/**
 * Generates the model at `filePath` unless a file is already there. Safe to call from
 * several processes at once: each writes a temporary file and renames it into place.
 */
export async function ensureTinyModel(
  filePath: string,
  opts: TinyLlamaOptions = {},
): Promise<{ path: string; created: boolean; bytes: number }> {
  const existing = await stat(filePath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (existing) return { path: filePath, created: false, bytes: existing.size };
  const { bytes } = await writeGgufFile(filePath, buildTinyLlama(opts));
  return { path: filePath, created: true, bytes };
}

function withoutUndefined(opts: TinyLlamaOptions): TinyLlamaOptions {
  return Object.fromEntries(Object.entries(opts).filter(([, value]) => value !== undefined));
}

const COUNT_OPTIONS = [
  "embeddingLength",
  "blockCount",
  "feedForwardLength",
  "headCount",
  "headCountKv",
  "contextLength",
] as const;

// Checked in order, after the counts: later rules assume earlier ones hold.
const OPTION_RULES: ReadonlyArray<readonly [(o: ResolvedTinyLlamaOptions) => boolean, string]> = [
  [
    (o) => Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff,
    "seed must be an integer in [0, 2^32)",
  ],
  [(o) => o.blockCount <= 512, "blockCount must be at most 512 (llama.cpp's limit)"],
  [(o) => o.rmsEps > 0 && Number.isFinite(o.rmsEps), "rmsEps must be a positive number"],
  [
    (o) => Object.hasOwn(tensorTypes, o.tensorType),
    `tensorType must be one of ${Object.keys(tensorTypes).join(", ")}`,
  ],
  [(o) => o.embeddingLength % o.headCount === 0, "embeddingLength must be a multiple of headCount"],
  [
    (o) => (o.embeddingLength / o.headCount) % 2 === 0,
    "head size (embeddingLength / headCount) must be even for RoPE",
  ],
  [(o) => o.headCount % o.headCountKv === 0, "headCount must be a multiple of headCountKv"],
  [
    (o) => o.embeddingLength % rowBlock(o) === 0 && o.feedForwardLength % rowBlock(o) === 0,
    "q8_0, q4_0 and q4_k need embeddingLength and feedForwardLength to be multiples of 32",
  ],
];

/** Values per block every weight row (embeddingLength or feedForwardLength long) must be a multiple of. */
function rowBlock(o: ResolvedTinyLlamaOptions): number {
  const plan = tensorTypes[o.tensorType];
  return blockSize(plan.fallback ?? plan.matrices);
}

function blockSize(type: EncodableTensorType): number {
  return ggmlTypeInfo(GgmlType[type])!.blockSize;
}

function checkOptions(o: ResolvedTinyLlamaOptions): void {
  for (const key of COUNT_OPTIONS) {
    if (!Number.isSafeInteger(o[key]) || o[key] < 1) fail(`${key} must be a positive integer`);
  }
  const broken = OPTION_RULES.find(([holds]) => !holds(o));
  if (broken) fail(broken[1]);
}

function fail(message: string): never {
  throw new TinyLlamaOptionsError(message);
}

function tinyLlamaMetadata(o: ResolvedTinyLlamaOptions): GgufMetadata {
  const { vocab } = o;
  return {
    "general.architecture": kv.string("llama"),
    "general.name": kv.string(o.name),
    "general.description": kv.string(
      `Random weights (seed ${o.seed}) for tests and benchmarks; generates gibberish`,
    ),
    "general.alignment": kv.uint32(GGUF_DEFAULT_ALIGNMENT),
    "general.file_type": kv.uint32(tensorTypes[o.tensorType].fileType),
    "llama.context_length": kv.uint32(o.contextLength),
    "llama.embedding_length": kv.uint32(o.embeddingLength),
    "llama.block_count": kv.uint32(o.blockCount),
    "llama.feed_forward_length": kv.uint32(o.feedForwardLength),
    "llama.attention.head_count": kv.uint32(o.headCount),
    "llama.attention.head_count_kv": kv.uint32(o.headCountKv),
    "llama.attention.layer_norm_rms_epsilon": kv.float32(o.rmsEps),
    "llama.rope.dimension_count": kv.uint32(o.embeddingLength / o.headCount),
    "llama.vocab_size": kv.uint32(vocab.tokens.length),
    "tokenizer.ggml.model": kv.string("llama"),
    "tokenizer.ggml.tokens": kv.stringArray(vocab.tokens),
    "tokenizer.ggml.scores": kv.float32Array(vocab.scores),
    "tokenizer.ggml.token_type": kv.int32Array(vocab.tokenTypes),
    "tokenizer.ggml.bos_token_id": kv.uint32(vocab.bosTokenId),
    "tokenizer.ggml.eos_token_id": kv.uint32(vocab.eosTokenId),
    "tokenizer.ggml.unknown_token_id": kv.uint32(vocab.unknownTokenId),
    "tokenizer.ggml.add_bos_token": kv.bool(true),
    "tokenizer.ggml.add_eos_token": kv.bool(false),
  };
}

function tinyLlamaTensors(o: ResolvedTinyLlamaOptions): GgufTensorInput[] {
  const dims: LlamaBlockDims = {
    embeddingLength: o.embeddingLength,
    feedForwardLength: o.feedForwardLength,
    headCount: o.headCount,
    headCountKv: o.headCountKv,
    headDim: o.embeddingLength / o.headCount,
  };
  // Blocks come last so that the file ends on a whole weight matrix with no trailing padding.
  const shapes = [
    ...llamaGlobalTensors(o.embeddingLength, o.vocab.tokens.length),
    ...Array.from({ length: o.blockCount }, (_, i) => llamaBlockTensors(i, dims)).flat(),
  ];
  return shapes.map((tensor) => tinyTensor(tensor, o));
}

function tinyTensor({ name, shape }: TensorShape, o: ResolvedTinyLlamaOptions): GgufTensorInput {
  const [rowLength = 1, rows = 1] = shape;
  if (shape.length === 1) {
    return {
      name,
      shape,
      type: GgmlType.F32,
      data: encodeTensorData(new Float32Array(rowLength).fill(1), "F32"),
    };
  }
  const values = new Float32Array(rowLength * rows);
  fillGaussian(values, mulberry32(hashString(name, o.seed)), weightDeviation(name, rowLength));
  if (name === "output.weight") silenceNonWordTokens(values, rowLength, o.vocab);
  const type = matrixType(name, rowLength, tensorTypes[o.tensorType]);
  return { name, shape, type: GgmlType[type], data: encodeTensorData(values, type) };
}

function matrixType(name: string, rowLength: number, plan: TensorTypePlan): EncodableTensorType {
  if (name === "output.weight") return plan.output;
  if (plan.fallback && rowLength % blockSize(plan.matrices) !== 0) return plan.fallback;
  return plan.matrices;
}

function weightDeviation(name: string, inputs: number): number {
  if (name === "token_embd.weight") return 1;
  if (name === "output.weight") return OUTPUT_LOGIT_DEVIATION / Math.sqrt(inputs);
  return 1 / Math.sqrt(inputs);
}

/** Zero output rows for control and byte tokens, so generated text is made of word pieces. */
function silenceNonWordTokens(values: Float32Array, rowLength: number, vocab: LlamaVocab): void {
  vocab.tokenTypes.forEach((type, token) => {
    if (type !== TokenType.NORMAL) values.fill(0, token * rowLength, (token + 1) * rowLength);
  });
}
