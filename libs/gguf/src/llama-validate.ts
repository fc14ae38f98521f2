import { GgufValidationError } from "./errors.js";
import { badValue, MetadataReader } from "./llama-metadata.js";
import { type Blocks, checkTensors } from "./llama-tensors.js";
import { checkTokenizer } from "./llama-tokenizer.js";
import { type GgufFileInfo, type GgufInput, inspectGguf } from "./reader.js";

/** Keys a LLaMA GGUF must have; other keys llama.cpp reads are checked when present. */
export const REQUIRED_LLAMA_KEYS = [
  "general.architecture",
  "llama.context_length",
  "llama.embedding_length",
  "llama.block_count",
  "llama.feed_forward_length",
  "llama.attention.head_count",
  "llama.attention.layer_norm_rms_epsilon",
  "tokenizer.ggml.model",
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.token_type",
  "tokenizer.ggml.bos_token_id",
  "tokenizer.ggml.eos_token_id",
] as const;

export interface LlamaHyperparameters {
  readonly name: string | undefined;
  readonly fileType: number | undefined;
  readonly contextLength: number;
  readonly embeddingLength: number;
  readonly blockCount: number;
  /** Of block 0; llama.cpp allows per-block values. */
  readonly feedForwardLength: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly headDim: number;
  readonly rmsEps: number;
  readonly expertCount: number;
  readonly vocabSize: number;
  readonly tokenizerModel: string;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
}

export interface LlamaGgufInfo extends GgufFileInfo {
  readonly llama: LlamaHyperparameters;
}

/**
 * Checks that a file is a LLaMA model llama.cpp can load without aborting: GGUF structure,
 * required metadata with the types llama.cpp insists on, a consistent vocabulary, and every
 * tensor the architecture needs with the shape it expects. Throws GgufValidationError.
 */
export async function validateLlamaGguf(input: GgufInput): Promise<LlamaGgufInfo> {
  const file = await inspectGguf(input);
  return { ...file, llama: checkLlamaGguf(file) };
}

/** The LLaMA checks of validateLlamaGguf, on an already inspected file. */
export function checkLlamaGguf(file: GgufFileInfo): LlamaHyperparameters {
  const meta = new MetadataReader(file.metadata);
  const architecture = meta.string("general.architecture");
  if (architecture !== "llama") {
    throw new GgufValidationError(
      "wrong_architecture",
      `general.architecture is '${architecture}', expected 'llama'`,
    );
  }
  const contextLength = positive(meta, "llama.context_length");
  const embeddingLength = positive(meta, "llama.embedding_length");
  const rmsEps = meta.float32("llama.attention.layer_norm_rms_epsilon");
  if (!(rmsEps > 0 && Number.isFinite(rmsEps))) badValue("llama.attention.layer_norm_rms_epsilon", rmsEps);
  const blocks = readBlocks(meta, embeddingLength);
  const tokenizer = checkTokenizer(meta);
  checkTensors(file.tensors, { embeddingLength, vocabSize: tokenizer.vocabSize, blocks });
  return {
    name: meta.string("general.name", "optional"),
    fileType: meta.uint32("general.file_type", "optional"),
    contextLength,
    embeddingLength,
    blockCount: blocks.count,
    feedForwardLength: blocks.feedForward[0]!,
    headCount: blocks.heads[0]!,
    headCountKv: blocks.headsKv[0]!,
    headDim: blocks.headDim,
    rmsEps,
    expertCount: blocks.experts,
    ...tokenizer,
  };
}

function positive(meta: MetadataReader, key: string): number {
  const value = meta.uint32(key);
  if (value < 1) badValue(key, value);
  return value;
}

function readBlocks(meta: MetadataReader, embd: number): Blocks {
  const count = meta.uint32("llama.block_count");
  if (count < 1 || count > 512) badValue("llama.block_count", count, "llama.cpp supports 1 to 512 blocks");
  const feedForward = meta.perBlock("llama.feed_forward_length", count);
  const heads = meta.perBlock("llama.attention.head_count", count);
  const headsKv = meta.perBlock("llama.attention.head_count_kv", count, "optional") ?? heads;
  if (feedForward.some((n) => n < 1)) badValue("llama.feed_forward_length", feedForward);
  heads.forEach((n, i) => {
    const kv = headsKv[i]!;
    if (n < 1) badValue("llama.attention.head_count", n);
    if (kv < 1 || n % kv !== 0) badValue("llama.attention.head_count_kv", kv, `must divide head_count ${n}`);
  });
  return {
    count,
    feedForward,
    heads,
    headsKv,
    headDim: readHeadDim(meta, embd, heads[0]!),
    experts: readExperts(meta),
  };
}

function readHeadDim(meta: MetadataReader, embd: number, heads: number): number {
  const keyLength = meta.uint32("llama.attention.key_length", "optional");
  const valueLength = meta.uint32("llama.attention.value_length", "optional");
  if (keyLength === undefined && embd % heads !== 0) {
    badValue("llama.embedding_length", embd, `not a multiple of head_count ${heads}`);
  }
  const headDim = keyLength ?? embd / heads;
  if ((valueLength ?? embd / heads) !== headDim) {
    badValue(
      "llama.attention.value_length",
      valueLength,
      `llama.cpp needs it equal to the key length ${headDim}`,
    );
  }
  const rope = meta.uint32("llama.rope.dimension_count", "optional") ?? headDim;
  if (rope !== headDim) badValue("llama.rope.dimension_count", rope, `must equal the head size ${headDim}`);
  const scaling = meta.string("llama.rope.scaling.type", "optional");
  if (scaling !== undefined && !["none", "linear", "yarn", "longrope"].includes(scaling)) {
    badValue("llama.rope.scaling.type", scaling);
  }
  return headDim;
}

function readExperts(meta: MetadataReader): number {
  const experts = meta.uint32("llama.expert_count", "optional") ?? 0;
  const used = meta.uint32("llama.expert_used_count", "optional") ?? 0;
  if (experts > 1024) badValue("llama.expert_count", experts, "llama.cpp supports at most 1024");
  if (experts > 0 && (used < 1 || used > experts)) badValue("llama.expert_used_count", used);
  if (experts === 0 && used !== 0) badValue("llama.expert_used_count", used, "the model has no experts");
  return experts;
}
