export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

export type GenerateInput = { kind: "chat"; messages: ChatTurn[] } | { kind: "prompt"; prompt: string };

export interface GenerateParams {
  model: string;
  input: GenerateInput;
  /** Unset: up to DEFAULT_MAX_TOKENS, bounded by what the context has left after the prompt. */
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  topP?: number | undefined;
  seed?: number | undefined;
  stop: string[];
}

export type FinishReason = "stop" | "length" | "cancelled";

export interface GenerateResult {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

export interface ModelInfo {
  id: string;
  contextSize: number;
  quantization: string;
  createdUnix: number;
}

export interface EmbedResult {
  /** Unit-length vectors, one per input, in input order. */
  vectors: number[][];
  promptTokens: number;
}

/** What the gRPC layer needs from an inference backend. */
export interface Engine {
  models(): ModelInfo[];
  generate(
    params: GenerateParams,
    opts: { signal: AbortSignal; onDelta: (text: string) => Promise<void> | void },
  ): Promise<GenerateResult>;
  embed(model: string, inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult>;
  readonly running: number;
  readonly queued: number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_TOKENS = 256;
