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
};

export const chatCompletionRequest = z.object({
  ...sampling,
  messages: z.array(chatMessage).min(1, "messages must not be empty"),
  max_completion_tokens: z.number().int().min(1).max(UINT32_MAX).nullish(),
});

export const completionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1, "only one prompt per request is supported")]),
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
