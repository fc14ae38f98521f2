import { z } from "zod";

// Bounds of the protobuf fields these values travel in.
const UINT32_MAX = 2 ** 32 - 1;

/** OpenAI request fields the gateway understands; unknown fields are ignored, as OpenAI-compatible servers do. */
const contentPart = z.object({ type: z.literal("text"), text: z.string() });

export const chatMessage = z.object({
  role: z.enum(["system", "developer", "user", "assistant"], {
    error: "role must be system, developer, user or assistant (tool messages are not supported yet)",
  }),
  // Assistant turns that only carried tool calls come back with null content.
  content: z.union([z.string(), z.array(contentPart).min(1)]).nullish(),
  name: z.string().optional(),
});

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish();

const penalty = z.number().min(-2).max(2).nullish();

export const responseFormat = z
  .discriminatedUnion(
    "type",
    [
      z.object({ type: z.literal("text") }),
      z.object({ type: z.literal("json_object") }),
      z.object({
        type: z.literal("json_schema"),
        json_schema: z.object({
          name: z.string().min(1).max(64),
          description: z.string().optional(),
          schema: z.record(z.string(), z.unknown()),
          strict: z.boolean().nullish(),
        }),
      }),
    ],
    { error: "response_format.type must be text, json_object or json_schema" },
  )
  .nullish();

const sampling = {
  model: z.string().min(1, "model is required"),
  max_tokens: z.number().int().min(1).max(UINT32_MAX).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  n: z.literal(1, { error: "only n=1 is supported" }).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  stop,
  seed: z
    .number()
    .int()
    .min(-(2 ** 31))
    .max(2 ** 31 - 1)
    .nullish(),
  user: z.string().optional(),
  /** Not OpenAI's, but vLLM's and llama-server's: sample from the k most likely tokens (0: off). */
  top_k: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .nullish(),
  presence_penalty: penalty,
  frequency_penalty: penalty,
  response_format: responseFormat,
};

const NO_LOGPROBS = "logprobs are not supported yet";

export const chatCompletionRequest = z.object({
  ...sampling,
  messages: z.array(chatMessage).min(1, "messages must not be empty"),
  max_completion_tokens: z.number().int().min(1).max(UINT32_MAX).nullish(),
  logprobs: z.literal(false, { error: NO_LOGPROBS }).nullish(),
  top_logprobs: z.literal(0, { error: NO_LOGPROBS }).nullish(),
});

export const completionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1, "only one prompt per request is supported")]),
  logprobs: z.literal(0, { error: NO_LOGPROBS }).nullish(),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;
export type CompletionRequest = z.infer<typeof completionRequest>;

export const embeddingRequest = z.object({
  model: z.string().min(1, "model is required"),
  input: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(2048)], {
    error: "input must be a non-empty string or an array of 1-2048 non-empty strings",
  }),
  encoding_format: z.enum(["float", "base64"]).default("float"),
  dimensions: z.number().int().min(1).optional(),
  user: z.string().optional(),
});

export type EmbeddingRequest = z.infer<typeof embeddingRequest>;
