import { TokenType } from "./constants.js";
import { GgufValidationError } from "./errors.js";
import { badValue, type MetadataReader } from "./llama-metadata.js";

export interface TokenizerSummary {
  readonly tokenizerModel: string;
  readonly vocabSize: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
}

const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

/** Checks the vocabulary for what llama.cpp asserts on or needs to tokenize. */
export function checkTokenizer(meta: MetadataReader): TokenizerSummary {
  const tokenizerModel = meta.string("tokenizer.ggml.model");
  const tokens = meta.array("tokenizer.ggml.tokens", ["string"]) as readonly string[];
  if (tokens.length === 0) throw inconsistent("tokenizer.ggml.tokens is empty");
  const vocabSize = meta.uint32("llama.vocab_size", "optional") ?? tokens.length;
  if (vocabSize !== tokens.length) {
    throw inconsistent(
      `llama.vocab_size is ${vocabSize} but tokenizer.ggml.tokens has ${tokens.length} entries`,
    );
  }
  const scoreTypes = ["float32", "int32"] as const;
  const scores =
    tokenizerModel === "llama"
      ? meta.array("tokenizer.ggml.scores", scoreTypes)
      : meta.array("tokenizer.ggml.scores", scoreTypes, "optional");
  checkSameLength("tokenizer.ggml.scores", scores, tokens.length);
  const types = meta.array("tokenizer.ggml.token_type", ["int32"]) as readonly number[];
  checkSameLength("tokenizer.ggml.token_type", types, tokens.length);
  if (tokenizerModel === "gpt2") meta.array("tokenizer.ggml.merges", ["string"]);
  checkUniqueTokens(tokens);
  checkByteTokens(tokens, types, tokenizerModel);
  const tokenId = (key: string) => {
    const id = meta.uint32(key);
    if (id >= tokens.length) badValue(key, id, `vocabulary has ${tokens.length} tokens`);
    return id;
  };
  if (meta.has("tokenizer.ggml.unknown_token_id")) tokenId("tokenizer.ggml.unknown_token_id");
  return {
    tokenizerModel,
    vocabSize,
    bosTokenId: tokenId("tokenizer.ggml.bos_token_id"),
    eosTokenId: tokenId("tokenizer.ggml.eos_token_id"),
  };
}

function inconsistent(message: string): GgufValidationError {
  return new GgufValidationError("inconsistent_tokens", message);
}

function checkSameLength(key: string, values: readonly unknown[] | undefined, tokens: number): void {
  if (values !== undefined && values.length !== tokens) {
    throw inconsistent(`${key} has ${values.length} entries but tokenizer.ggml.tokens has ${tokens}`);
  }
}

/** llama.cpp aborts (GGML_ASSERT) when two token strings collide; empty ones become "[EMPTY_i]". */
function checkUniqueTokens(tokens: readonly string[]): void {
  const seen = new Map<string, number>();
  tokens.forEach((token, id) => {
    const text = token === "" ? `[EMPTY_${id}]` : token;
    const first = seen.get(text);
    if (first !== undefined)
      throw inconsistent(`token ${JSON.stringify(text)} appears at ids ${first} and ${id}`);
    seen.set(text, id);
  });
}

/** Byte tokens are parsed from their text; SentencePiece byte fallback needs all 256. */
function checkByteTokens(tokens: readonly string[], types: readonly number[], tokenizerModel: string): void {
  let byteTokens = 0;
  types.forEach((type, id) => {
    if (type !== TokenType.BYTE) return;
    if (!BYTE_TOKEN.test(tokens[id]!)) {
      throw inconsistent(
        `token ${id} ${JSON.stringify(tokens[id])} has the byte type but is not of the form <0xNN>`,
      );
    }
    byteTokens++;
  });
  if (tokenizerModel === "llama" && byteTokens < 256) {
    const present = new Set(tokens);
    const missing = Array.from(
      { length: 256 },
      (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`,
    ).find((token) => !present.has(token));
    if (missing) throw inconsistent(`SentencePiece vocabulary lacks byte token ${missing}`);
  }
}
