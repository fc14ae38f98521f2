import { randomUUID } from "node:crypto";
import { serving } from "@sloughgpt/proto";
import { InvalidArgumentError } from "@sloughgpt/runtime";
import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "./schemas.js";

type Common = Pick<
  ChatCompletionRequest,
  | "model"
  | "max_tokens"
  | "temperature"
  | "top_p"
  | "top_k"
  | "seed"
  | "stop"
  | "presence_penalty"
  | "frequency_penalty"
  | "response_format"
  | "stream"
>;

/** Who asks and how: identity for metering, and whether the response cache may answer. */
export interface RequestContext {
  keyId: string;
  team: string;
  requestId: string;
  cache: serving.CacheMode;
}

function format(f: Common["response_format"]): serving.ResponseFormat | undefined {
  if (!f || f.type === "text") return undefined;
  if (f.type === "json_object") return { type: "json_object", jsonSchema: "" };
  return { type: "json_schema", jsonSchema: JSON.stringify(f.json_schema.schema) };
}

function sampling(req: Common, maxTokens: number | null | undefined) {
  const responseFormat = format(req.response_format);
  return {
    model: req.model,
    maxTokens: maxTokens ?? 0,
    ...(req.temperature != null ? { temperature: req.temperature } : {}),
    ...(req.top_p != null ? { topP: req.top_p } : {}),
    ...(req.top_k != null ? { topK: req.top_k } : {}),
    ...(req.seed != null ? { seed: req.seed } : {}),
    ...(req.presence_penalty != null ? { presencePenalty: req.presence_penalty } : {}),
    ...(req.frequency_penalty != null ? { frequencyPenalty: req.frequency_penalty } : {}),
    responseFormat,
    stop: req.stop == null ? [] : typeof req.stop === "string" ? [req.stop] : req.stop,
    stream: req.stream === true,
  };
}

export function chatToGenerate(req: ChatCompletionRequest, ids: RequestContext): serving.GenerateRequest {
  const messages = req.messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join(""),
  }));
  return {
    ...sampling(req, req.max_completion_tokens ?? req.max_tokens),
    input: { $case: "chat", chat: { messages } },
    ...ids,
  };
}

export function completionToGenerate(req: CompletionRequest, ids: RequestContext): serving.GenerateRequest {
  const prompt = typeof req.prompt === "string" ? req.prompt : (req.prompt[0] ?? "");
  return { ...sampling(req, req.max_tokens), input: { $case: "prompt", prompt }, ...ids };
}

export function finishReason(r: serving.FinishReason | undefined): "stop" | "length" {
  return r === serving.FinishReason.FINISH_REASON_LENGTH ? "length" : "stop";
}

export function usageOf(u: serving.Usage | undefined) {
  const prompt = u?.promptTokens ?? 0;
  const completion = u?.completionTokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    // Prompt tokens whose evaluation was reused from an earlier request (OpenAI's field).
    prompt_tokens_details: { cached_tokens: u?.cachedTokens ?? 0 },
  };
}

const CACHE_RESULT: Partial<Record<serving.CacheResult, string>> = {
  [serving.CacheResult.CACHE_RESULT_HIT]: "hit",
  [serving.CacheResult.CACHE_RESULT_MISS]: "miss",
  [serving.CacheResult.CACHE_RESULT_SKIP]: "skip",
};

/** The `x-sloughgpt-cache` response header value. */
export function cacheHeader(final: serving.GenerateFinal | undefined): string | undefined {
  return final ? CACHE_RESULT[final.cache] : undefined;
}

/** `Cache-Control: no-cache`/`no-store` or `x-sloughgpt-cache: bypass` keep the response cache out. */
export function cacheMode(headers: Record<string, string | string[] | undefined>): serving.CacheMode {
  const cc = String(headers["cache-control"] ?? "").toLowerCase();
  const own = String(headers["x-sloughgpt-cache"] ?? "").toLowerCase();
  return /\bno-(cache|store)\b/.test(cc) || own === "bypass"
    ? serving.CacheMode.CACHE_MODE_BYPASS
    : serving.CacheMode.CACHE_MODE_UNSPECIFIED;
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

/** A chat completion (`chat.completion`) or a text completion (`text_completion`). */
export type Kind = "chat" | "text";

/** A new response's id (`chatcmpl-…` or `cmpl-…`, as OpenAI's), creation time and model. */
export function responseMeta(kind: Kind, model: string, now = Date.now()): ResponseMeta {
  return {
    id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replaceAll("-", "")}`,
    created: Math.floor(now / 1000),
    model,
  };
}

/** The non-streamed response body of either kind. */
export function completion(
  kind: Kind,
  meta: ResponseMeta,
  text: string,
  final: serving.GenerateFinal | undefined,
) {
  return kind === "chat" ? chatCompletion(meta, text, final) : textCompletion(meta, text, final);
}

export function chatCompletion(meta: ResponseMeta, text: string, final: serving.GenerateFinal | undefined) {
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: text },
        logprobs: null,
        finish_reason: finishReason(final?.finishReason),
      },
    ],
    usage: usageOf(final?.usage),
  };
}

export function chatChunk(
  meta: ResponseMeta,
  delta: { role?: "assistant"; content?: string },
  finish: "stop" | "length" | null,
) {
  return {
    id: meta.id,
    object: "chat.completion.chunk",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  };
}

export function usageChunk(
  meta: ResponseMeta,
  final: serving.GenerateFinal | undefined,
  kind: "chat" | "text",
) {
  return {
    id: meta.id,
    object: kind === "chat" ? "chat.completion.chunk" : "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [],
    usage: usageOf(final?.usage),
  };
}

export function textCompletion(meta: ResponseMeta, text: string, final: serving.GenerateFinal | undefined) {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason(final?.finishReason) }],
    usage: usageOf(final?.usage),
  };
}

export function textChunk(meta: ResponseMeta, text: string, finish: "stop" | "length" | null) {
  return {
    id: meta.id,
    object: "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: finish }],
  };
}

/** A chat or text completion chunk with a delta of text, or (undefined) the closing one with the finish reason. */
export function contentChunk(
  kind: Kind,
  meta: ResponseMeta,
  delta: string | undefined,
  finish: ReturnType<typeof finishReason> | null,
) {
  if (kind === "chat") return chatChunk(meta, delta === undefined ? {} : { content: delta }, finish);
  return textChunk(meta, delta ?? "", finish);
}

const IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** OpenAI's base64 form: the float32 values, little-endian, base64-encoded. */
export function encodeEmbedding(values: number[], format: "float" | "base64"): number[] | string {
  if (format === "float") return values;
  const buf = Buffer.from(Float32Array.from(values).buffer);
  if (!IS_LITTLE_ENDIAN) buf.swap32();
  return buf.toString("base64");
}

export function embeddingList(
  model: string,
  vectors: number[][],
  format: "float" | "base64",
  promptTokens: number,
) {
  return {
    object: "list",
    data: vectors.map((v, index) => ({ object: "embedding", index, embedding: encodeEmbedding(v, format) })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

/** The texts to embed: OpenAI takes one string or a list. */
export function embeddingInputs(body: EmbeddingRequest): string[] {
  return typeof body.input === "string" ? [body.input] : body.input;
}

/** serving's Embed answer as OpenAI's list; `dimensions` other than the model's width is refused. */
export function embeddingResponse(body: EmbeddingRequest, res: serving.EmbedResponse) {
  const vectors = res.embeddings.map((e) => e.values);
  const width = vectors[0]?.length ?? 0;
  if (body.dimensions !== undefined && body.dimensions !== width) {
    throw new InvalidArgumentError(
      `model '${body.model}' produces ${width}-dimensional embeddings; dimensions=${body.dimensions} is not supported`,
      { param: "dimensions" },
    );
  }
  return embeddingList(body.model, vectors, body.encoding_format, res.promptTokens);
}
