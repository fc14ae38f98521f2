export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

export type GenerateInput = { kind: "chat"; messages: ChatTurn[] } | { kind: "prompt"; prompt: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; schema: object };

export interface GenerateParams {
  model: string;
  input: GenerateInput;
  /** Unset: up to DEFAULT_MAX_TOKENS, bounded by what the context has left after the prompt. */
  maxTokens?: number | undefined;
  /** Unset: 0, greedy decoding. */
  temperature?: number | undefined;
  topP?: number | undefined;
  topK?: number | undefined;
  seed?: number | undefined;
  /** OpenAI semantics, -2..2. */
  presencePenalty?: number | undefined;
  frequencyPenalty?: number | undefined;
  responseFormat?: ResponseFormat | undefined;
  stop: string[];
}

export type FinishReason = "stop" | "length" | "cancelled";

export interface GenerateResult {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens reused from an earlier evaluation instead of evaluated again. */
  cachedTokens: number;
}

export type ModelState = "loading" | "loaded" | "idle" | "failed";

export interface ModelInfo {
  id: string;
  contextSize: number;
  quantization: string;
  createdUnix: number;
  /** llama | openai-compatible */
  engine: string;
  /** The chat template applied to chat requests (see docs/serving.md). */
  chatTemplate: string;
}

export interface EmbedResult {
  /** Unit-length vectors, one per input, in input order. */
  vectors: number[][];
  promptTokens: number;
}

export interface TokenizeResult {
  /** Per input, where each of its tokens starts (UTF-16 offsets, ascending). */
  starts: number[][];
}

export interface GenerateOptions {
  signal: AbortSignal;
  /** `tokens`: how many tokens the text holds when an engine sends several at once (else 1). */
  onDelta: (text: string, tokens?: number) => Promise<void> | void;
  /** false: the caller wants the text only when complete; an engine may then produce it whole. */
  incremental?: boolean | undefined;
}

/** One loaded model: a llama.cpp engine (in its own process) or an upstream server. */
export interface ModelBackend {
  readonly info: ModelInfo;
  generate(params: GenerateParams, opts: GenerateOptions): Promise<GenerateResult>;
  embed(inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult>;
  tokenize(inputs: string[], opts: { signal: AbortSignal }): Promise<TokenizeResult>;
  /** Requests decoding now and waiting for a sequence. */
  readonly running: number;
  readonly queued: number;
  close(): Promise<void>;
}

/** What the gRPC layer needs: every model the service can answer for. */
export interface Engine {
  models(): (ModelInfo & { state: ModelState })[];
  generate(params: GenerateParams, opts: GenerateOptions): Promise<GenerateResult>;
  embed(model: string, inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult>;
  tokenize(model: string, inputs: string[], opts: { signal: AbortSignal }): Promise<TokenizeResult>;
  readonly running: number;
  readonly queued: number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_TOKENS = 256;
