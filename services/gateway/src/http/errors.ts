// The mapping is shared with serving's OpenAI-compatible API; the gateway's boundary uses it from here.
export { type HttpError, type OpenAIErrorBody, toHttpError } from "@sloughgpt/openai";
