import { serving } from "@sloughgpt/proto";
import {
  cacheHeader,
  cacheMode,
  chatChunk,
  chatCompletion,
  chatToGenerate,
  completionToGenerate,
  embeddingList,
  encodeEmbedding,
} from "./mapping.js";
import { chatCompletionRequest, completionRequest } from "./schemas.js";

const ids = { keyId: "k1", team: "t1", requestId: "r1", cache: serving.CacheMode.CACHE_MODE_UNSPECIFIED };

describe("OpenAI request mapping", () => {
  it("maps a chat request to a Generate request", () => {
    const req = chatCompletionRequest.parse({
      model: "m",
      messages: [
        { role: "developer", content: "be brief" },
        {
          role: "user",
          content: [
            { type: "text", text: "hi " },
            { type: "text", text: "there" },
          ],
        },
      ],
      max_completion_tokens: 7,
      max_tokens: 99,
      temperature: 0.5,
      stop: "END",
      seed: 3,
      frequency_penalty: 0,
      presence_penalty: -1.5,
      top_k: 40,
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
    });
    expect(chatToGenerate(req, ids)).toEqual({
      model: "m",
      maxTokens: 7,
      temperature: 0.5,
      topK: 40,
      seed: 3,
      frequencyPenalty: 0,
      presencePenalty: -1.5,
      responseFormat: { type: "json_schema", jsonSchema: '{"type":"object"}' },
      stop: ["END"],
      stream: false,
      input: {
        $case: "chat",
        chat: {
          messages: [
            { role: "system", content: "be brief" },
            { role: "user", content: "hi there" },
          ],
        },
      },
      ...ids,
    });
  });

  it("tells serving whether the caller streams", () => {
    const streamed = completionRequest.parse({ model: "m", prompt: "p", stream: true });
    expect(completionToGenerate(streamed, ids).stream).toBe(true);
    expect(completionToGenerate(completionRequest.parse({ model: "m", prompt: "p" }), ids).stream).toBe(
      false,
    );
  });

  it("maps json_object and passes the cache mode", () => {
    const req = completionRequest.parse({
      model: "m",
      prompt: "p",
      response_format: { type: "json_object" },
    });
    const bypass = { ...ids, cache: serving.CacheMode.CACHE_MODE_BYPASS };
    expect(completionToGenerate(req, bypass)).toMatchObject({
      responseFormat: { type: "json_object", jsonSchema: "" },
      cache: serving.CacheMode.CACHE_MODE_BYPASS,
    });
  });

  it("leaves unset sampling fields to serving's defaults", () => {
    const req = completionRequest.parse({ model: "m", prompt: ["once upon"], temperature: null });
    expect(completionToGenerate(req, ids)).toEqual({
      model: "m",
      maxTokens: 0,
      stop: [],
      stream: false,
      responseFormat: undefined,
      input: { $case: "prompt", prompt: "once upon" },
      ...ids,
    });
  });

  it.each([
    [{ model: "m", messages: [] }, "messages"],
    [{ model: "", messages: [{ role: "user", content: "x" }] }, "model"],
    [{ model: "m", messages: [{ role: "tool", content: "x" }] }, "messages.0.role"],
    [{ model: "m", messages: [{ role: "user", content: "x" }], n: 2 }, "n"],
    [{ model: "m", messages: [{ role: "user", content: "x" }], temperature: 3 }, "temperature"],
    [{ model: "m", messages: [{ role: "user", content: "x" }], stop: ["a", "b", "c", "d", "e"] }, "stop"],
    [{ model: "m", messages: [{ role: "user", content: "x" }], logprobs: true }, "logprobs"],
    [{ model: "m", messages: [{ role: "user", content: "x" }], presence_penalty: 2.5 }, "presence_penalty"],
    [{ model: "m", messages: [{ role: "user", content: "x" }], top_k: -1 }, "top_k"],
    [
      { model: "m", messages: [{ role: "user", content: "x" }], response_format: { type: "yaml" } },
      "response_format.type",
    ],
    [
      { model: "m", messages: [{ role: "user", content: "x" }], response_format: { type: "json_schema" } },
      "response_format.json_schema",
    ],
  ])("rejects %j at %s", (body, path) => {
    const r = chatCompletionRequest.safeParse(body);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path.join(".")).toBe(path);
  });
});

describe("OpenAI response shapes", () => {
  const meta = { id: "chatcmpl-1", created: 1700000000, model: "m" };

  it("builds a chat completion with usage totals", () => {
    const final = {
      finishReason: serving.FinishReason.FINISH_REASON_LENGTH,
      usage: { promptTokens: 5, completionTokens: 3, cachedTokens: 2 },
      cache: serving.CacheResult.CACHE_RESULT_MISS,
    };
    expect(chatCompletion(meta, "abc", final)).toEqual({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1700000000,
      model: "m",
      choices: [
        { index: 0, message: { role: "assistant", content: "abc" }, logprobs: null, finish_reason: "length" },
      ],
      usage: {
        prompt_tokens: 5,
        completion_tokens: 3,
        total_tokens: 8,
        prompt_tokens_details: { cached_tokens: 2 },
      },
    });
    expect(cacheHeader(final)).toBe("miss");
  });

  it.each([
    [{}, serving.CacheMode.CACHE_MODE_UNSPECIFIED],
    [{ "cache-control": "max-age=0" }, serving.CacheMode.CACHE_MODE_UNSPECIFIED],
    [{ "cache-control": "no-cache" }, serving.CacheMode.CACHE_MODE_BYPASS],
    [{ "cache-control": "private, no-store" }, serving.CacheMode.CACHE_MODE_BYPASS],
    [{ "x-sloughgpt-cache": "bypass" }, serving.CacheMode.CACHE_MODE_BYPASS],
  ])("reads the cache mode from %j", (headers, mode) => {
    expect(cacheMode(headers)).toBe(mode);
  });

  it("builds stream chunks", () => {
    expect(chatChunk(meta, { content: "x" }, null).choices).toEqual([
      { index: 0, delta: { content: "x" }, logprobs: null, finish_reason: null },
    ]);
  });
});

describe("embeddings", () => {
  it("encodes base64 as little-endian float32, which decodes back to the same values", () => {
    const values = [0.5, -1.25, 3];
    const b64 = encodeEmbedding(values, "base64") as string;
    const buf = Buffer.from(b64, "base64");
    expect(Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4))).toEqual(values);
    expect(encodeEmbedding(values, "float")).toBe(values);
  });

  it("lists embeddings in input order with usage", () => {
    expect(embeddingList("m", [[1], [0]], "float", 7)).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [1] },
        { object: "embedding", index: 1, embedding: [0] },
      ],
      model: "m",
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
  });
});
