import { stat } from "node:fs/promises";
import { setImmediate } from "node:timers/promises";
import { validateLlamaGguf } from "@sloughgpt/gguf";
import {
  FailedPreconditionError,
  InvalidArgumentError,
  type Logger,
  UnavailableError,
} from "@sloughgpt/runtime";
import {
  type ChatHistoryItem,
  ChatMLChatWrapper,
  type ChatWrapper,
  getLlama,
  type Llama,
  LlamaChatSession,
  LlamaCompletion,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { Admission } from "./admission.js";
import { toChatHistory } from "./chat.js";
import {
  DEFAULT_MAX_TOKENS,
  type EmbedResult,
  type FinishReason,
  type GenerateOptions,
  type GenerateParams,
  type GenerateResult,
  type ModelBackend,
  type ModelInfo,
  type ResponseFormat,
  type TokenizeResult,
} from "./engine.js";
import { commonPrefixLength, pickSequence } from "./prefix.js";
import { alignStarts, decodedStarts } from "./token-offsets.js";
import { l2Normalize } from "./vectors.js";

/** Tokens rendered between turns of the event loop when tokenizing. */
const TOKENIZE_SLICE = 2048;

export interface LlamaEngineOptions {
  modelPath: string;
  modelId: string;
  threads: number;
  sequences: number;
  contextSize: number;
  gpu: "false" | "auto" | "cuda" | "vulkan";
  gpuLayers: number;
  maxQueue: number;
  /** When set, loading fails unless the file has this quantization. */
  quantization?: string | undefined;
  logger: Logger;
}

interface Slot {
  sequence: LlamaContextSequence;
  /** For least-recently-used choice among sequences that share nothing with a prompt. */
  lastUsed: number;
}

/**
 * llama.cpp through node-llama-cpp: one context with N sequences shared by concurrent requests.
 * Sequences keep their evaluated tokens between requests, and each request takes the free sequence
 * whose tokens share the longest prefix with its prompt, so a multi-turn chat re-evaluates only the
 * new turn.
 */
export class LlamaEngine implements ModelBackend {
  private embedding: Promise<LlamaEmbeddingContext> | undefined;
  /** Aborted by close(): running requests stop before their contexts are disposed. */
  private readonly closing = new AbortController();
  private readonly active = new Set<Promise<unknown>>();
  /** One embedding context, used by one request at a time. */
  private readonly embedAdmission: Admission;
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private clock = 0;
  /** Prompts that reused part of an earlier evaluation, and the tokens they did not evaluate again. */
  readonly prefixStats = { hits: 0, reusedTokens: 0 };

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    readonly info: ModelInfo,
    private readonly chatWrapper: ChatWrapper,
    private readonly admission: Admission,
    /** Sequences not in use. Admission guarantees one is free for every permit it grants. */
    private readonly idle: Slot[],
    private readonly threads: number,
    maxQueue: number,
  ) {
    this.embedAdmission = new Admission(1, maxQueue);
  }

  static async load(opts: LlamaEngineOptions): Promise<LlamaEngine> {
    const started = Date.now();
    // llama.cpp aborts the whole process on some malformed files; check the header first.
    const gguf = await validateLlamaGguf(opts.modelPath).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      const message = code === "ENOENT" ? "no such file" : err instanceof Error ? err.message : String(err);
      throw new InvalidArgumentError(`cannot load ${opts.modelPath}: ${message}`, {
        param: "path",
        reason: "invalid_model_file",
        cause: err,
      });
    });
    const quantization = quantizationName(gguf.llama.fileType);
    if (opts.quantization && opts.quantization !== quantization) {
      throw new FailedPreconditionError(
        `${opts.modelPath} is ${quantization}, but the model is declared as ${opts.quantization}`,
        { param: "quantization" },
      );
    }
    const llama = await getLlama({
      gpu: opts.gpu === "false" ? false : opts.gpu,
      build: "never",
      maxThreads: opts.threads,
      logLevel: "error" as never,
    });
    const model = await llama.loadModel({ modelPath: opts.modelPath, gpuLayers: opts.gpuLayers });
    const context = await model.createContext({
      sequences: opts.sequences,
      threads: opts.threads,
      ...(opts.contextSize > 0 ? { contextSize: opts.contextSize } : {}),
    });
    const chatWrapper = chatWrapperFor(model);
    const info: ModelInfo = {
      id: opts.modelId,
      contextSize: context.contextSize,
      quantization,
      createdUnix: Math.floor((await stat(opts.modelPath)).mtimeMs / 1000),
      engine: "llama",
      chatTemplate: chatTemplateName(chatWrapper),
    };
    opts.logger.info(
      {
        model: info.id,
        contextSize: info.contextSize,
        sequences: opts.sequences,
        chatTemplate: info.chatTemplate,
        ms: Date.now() - started,
      },
      "Loaded model",
    );
    // Sequences are taken once and reused: a disposed sequence frees its slot only asynchronously.
    const idle = Array.from({ length: opts.sequences }, () => ({
      sequence: context.getSequence(),
      lastUsed: 0,
    }));
    return new LlamaEngine(
      llama,
      model,
      context,
      info,
      chatWrapper,
      new Admission(opts.sequences, opts.maxQueue),
      idle,
      opts.threads,
      opts.maxQueue,
    );
  }

  get running(): number {
    return this.admission.running;
  }

  get queued(): number {
    return this.admission.queued;
  }

  /** The tokens the engine evaluates for this input: the chat template applied, or the raw prompt. */
  private promptTokens(params: GenerateParams): Token[] {
    let tokens: Token[];
    if (params.input.kind === "prompt") tokens = this.model.tokenize(params.input.prompt);
    else {
      const { history, prompt } = toChatHistory(params.input.messages);
      const chatHistory: ChatHistoryItem[] = [
        ...history,
        { type: "user", text: prompt },
        { type: "model", response: [] },
      ];
      tokens = this.chatWrapper
        .generateContextState({ chatHistory })
        .contextText.tokenize(this.model.tokenizer);
    }
    // The engine starts every sequence with BOS where the model wants one.
    const bos = this.model.tokens.bos;
    if (bos !== null && this.model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos);
    return tokens;
  }

  /**
   * The generation budget: max_tokens when given, else the default capped by what the context has
   * left. A prompt that leaves no room is refused instead of silently losing its start.
   */
  private budget(params: GenerateParams, promptTokens: number): number {
    // Keep a few tokens free: a full context makes the engine shift it, re-evaluating the prompt
    // and dropping its start.
    const room = this.info.contextSize - promptTokens - CONTEXT_MARGIN;
    const maxTokens = params.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, room);
    if (maxTokens < 1 || maxTokens > room) {
      throw new InvalidArgumentError(
        `This model's context holds ${this.info.contextSize} tokens; the prompt has ${promptTokens} and ${maxTokens} more were asked for`,
        { param: "messages", reason: "context_length_exceeded" },
      );
    }
    return maxTokens;
  }

  /** Runs `fn` with a signal that also fires on close(), and lets close() wait for it. */
  private track<T>(signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closing.signal.aborted)
      return Promise.reject(new UnavailableError("the engine is shutting down"));
    const p = fn(AbortSignal.any([signal, this.closing.signal]));
    this.active.add(p);
    void p.finally(() => this.active.delete(p)).catch(() => undefined);
    return p;
  }

  embed(inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult> {
    return this.track(opts.signal, (signal) => this.embedNow(inputs, signal));
  }

  /**
   * Each input's tokens, as where they start (token-offsets.ts). Rendering runs in slices with a turn
   * of the event loop between them, so a long document never holds up the generations' deltas.
   */
  tokenize(inputs: string[], opts: { signal: AbortSignal }): Promise<TokenizeResult> {
    return this.track(opts.signal, async (signal) => {
      const starts: number[][] = [];
      for (const text of inputs) {
        const tokens = this.model.tokenize(text);
        const render = (a: number, b: number) => this.model.detokenize(tokens.slice(a, b));
        const out: number[] = [];
        let pos = 0;
        for (let from = 0; from < tokens.length; from += TOKENIZE_SLICE) {
          signal.throwIfAborted();
          const slice = decodedStarts(render, from, Math.min(tokens.length, from + TOKENIZE_SLICE), pos);
          for (const s of slice.starts) out.push(s);
          pos = slice.pos;
          await setImmediate();
        }
        starts.push(alignStarts(out, pos, text.length));
      }
      return { starts };
    });
  }

  private async embedNow(inputs: string[], signal: AbortSignal): Promise<EmbedResult> {
    const tokenized = inputs.map((text, i) => {
      const n = this.model.tokenize(text).length;
      if (n >= this.info.contextSize) {
        throw new InvalidArgumentError(
          `input ${i} has ${n} tokens; the model's context holds ${this.info.contextSize - 1}`,
          { param: `input.${i}`, reason: "context_length_exceeded" },
        );
      }
      return n;
    });
    const release = await this.embedAdmission.acquire(signal);
    try {
      // Created on first use: chat-only deployments never pay for a second context.
      this.embedding ??= this.model.createEmbeddingContext({
        threads: this.threads,
        contextSize: this.info.contextSize,
      });
      const ctx = await this.embedding;
      const vectors: number[][] = [];
      for (const text of inputs) {
        signal.throwIfAborted();
        vectors.push(l2Normalize((await ctx.getEmbeddingFor(text)).vector));
      }
      return { vectors, promptTokens: tokenized.reduce((a, b) => a + b, 0) };
    } finally {
      release();
    }
  }

  generate(params: GenerateParams, opts: GenerateOptions): Promise<GenerateResult> {
    return this.track(opts.signal, (signal) => this.generateNow(params, { ...opts, signal }));
  }

  private async generateNow(params: GenerateParams, opts: GenerateOptions): Promise<GenerateResult> {
    if (params.maxTokens !== undefined && params.maxTokens >= this.info.contextSize) {
      throw new InvalidArgumentError(
        `max_tokens (${params.maxTokens}) must be less than the model's context size (${this.info.contextSize})`,
        { param: "max_tokens", reason: "context_length_exceeded" },
      );
    }
    const tokens = this.promptTokens(params);
    const maxTokens = this.budget(params, tokens.length);
    const grammar = await this.grammarFor(params.responseFormat);
    const release = await this.admission.acquire(opts.signal);
    const slot = this.takeSlot(tokens);
    if (!slot) {
      release();
      throw new Error("admission granted a permit without a free sequence");
    }
    try {
      return await this.run(slot.sequence, { ...params, maxTokens }, tokens, grammar, opts);
    } finally {
      slot.lastUsed = ++this.clock;
      this.idle.push(slot);
      release();
    }
  }

  /**
   * The free sequence for a prompt. When nothing else decodes, erasing a sequence's extra tokens is
   * immediate, so the longest shared prefix wins; under load an erase waits for a pause in decoding,
   * so sequences the prompt merely extends, then empty ones, come first (see pickSequence).
   */
  private takeSlot(prompt: Token[]): Slot | undefined {
    const busy = this.admission.running > 1;
    const i = pickSequence(
      this.idle.map((s) => ({ tokens: s.sequence.contextTokens, lastUsed: s.lastUsed })),
      prompt,
      { busy },
    );
    return i < 0 ? undefined : this.idle.splice(i, 1)[0];
  }

  private grammarFor(format: ResponseFormat | undefined): Promise<LlamaGrammar> | undefined {
    if (!format || format.type === "text") return undefined;
    const key = format.type === "json_object" ? "json" : JSON.stringify(format.schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar =
        format.type === "json_object"
          ? this.llama.getGrammarFor("json")
          : this.llama.createGrammarForJsonSchema(format.schema as never).catch((err: unknown) => {
              throw new InvalidArgumentError(
                `response_format.json_schema is not supported: ${err instanceof Error ? err.message : String(err)}`,
                { param: "response_format" },
              );
            });
      // A schema that failed to compile is not kept.
      grammar.catch(() => this.grammars.delete(key));
      if (this.grammars.size >= MAX_GRAMMARS)
        this.grammars.delete(this.grammars.keys().next().value as string);
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  private async run(
    sequence: LlamaContextSequence,
    params: GenerateParams & { maxTokens: number },
    prompt: Token[],
    grammar: LlamaGrammar | undefined,
    opts: GenerateOptions,
  ): Promise<GenerateResult> {
    let pending = Promise.resolve();
    const before = sequence.contextTokens.slice();
    const meter = {
      input: sequence.tokenMeter.usedInputTokens,
      output: sequence.tokenMeter.usedOutputTokens,
    };
    const penalties = params.presencePenalty !== undefined || params.frequencyPenalty !== undefined;
    const common = {
      maxTokens: params.maxTokens,
      temperature: params.temperature ?? 0,
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      ...(params.topK !== undefined ? { topK: params.topK } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(params.stop.length > 0 ? { customStopTriggers: params.stop } : {}),
      ...(penalties
        ? {
            // llama.cpp's additive penalties have OpenAI's semantics; the multiplicative one stays off.
            repeatPenalty: {
              penalty: 1,
              lastTokens: PENALTY_LAST_TOKENS,
              presencePenalty: params.presencePenalty ?? 0,
              frequencyPenalty: params.frequencyPenalty ?? 0,
            },
          }
        : {}),
      ...(grammar ? { grammar } : {}),
      signal: opts.signal,
      stopOnAbortSignal: true,
      onTextChunk: (text: string) => {
        pending = pending.then(() => opts.onDelta(text));
      },
    };
    let stopReason: string;
    if (params.input.kind === "chat") {
      const { history, prompt } = toChatHistory(params.input.messages);
      const session = new LlamaChatSession({
        contextSequence: sequence,
        autoDisposeSequence: false,
        chatWrapper: this.chatWrapper,
      });
      session.setChatHistory(history);
      stopReason = (await session.promptWithMeta(prompt, common)).stopReason;
      session.dispose({ disposeSequence: false });
    } else {
      const completion = new LlamaCompletion({ contextSequence: sequence });
      stopReason = (await completion.generateCompletionWithMeta(params.input.prompt, common)).metadata
        .stopReason;
      completion.dispose({ disposeSequence: false });
    }
    await pending;
    const evaluated = sequence.tokenMeter.usedInputTokens - meter.input;
    // The prompt tokens not evaluated were reused; no more than the sequence held of this prompt.
    const cachedTokens = Math.max(0, Math.min(prompt.length - evaluated, commonPrefixLength(before, prompt)));
    if (cachedTokens > 0) {
      this.prefixStats.hits += 1;
      this.prefixStats.reusedTokens += cachedTokens;
    }
    return {
      finishReason: finishReason(stopReason, opts.signal),
      promptTokens: prompt.length,
      completionTokens: sequence.tokenMeter.usedOutputTokens - meter.output,
      cachedTokens,
    };
  }

  async close(): Promise<void> {
    this.closing.abort(new UnavailableError("the engine is shutting down"));
    await Promise.allSettled([...this.active]);
    if (this.embedding) await (await this.embedding).dispose();
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}

const CONTEXT_MARGIN = 8;
/** llama.cpp's default penalty window. */
const PENALTY_LAST_TOKENS = 64;
/** Compiled JSON-schema grammars kept per model. */
const MAX_GRAMMARS = 64;

// llama.h `enum llama_ftype`, the common ones.
const FILE_TYPES: Record<number, string> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  7: "Q8_0",
  14: "Q4_K_S",
  15: "Q4_K_M",
  17: "Q5_K_M",
  18: "Q6_K",
};

function quantizationName(fileType: number | undefined): string {
  return fileType === undefined ? "unknown" : (FILE_TYPES[fileType] ?? `ftype_${fileType}`);
}

/**
 * The GGUF's own template (`tokenizer.chat_template`) when it has one — run as Jinja, or as the
 * equivalent built-in wrapper when node-llama-cpp recognises it — and ChatML otherwise, the most
 * common format and llama-server's default.
 */
export function chatWrapperFor(model: LlamaModel): ChatWrapper {
  const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer
    ?.chat_template;
  if (typeof template === "string" && template.trim()) return resolveChatWrapper(model);
  return new ChatMLChatWrapper();
}

/** "jinja" when the GGUF's own template runs as is; otherwise the built-in template's name. */
function chatTemplateName(wrapper: ChatWrapper): string {
  return wrapper.wrapperName === "JinjaTemplate" ? "jinja" : wrapper.wrapperName.toLowerCase();
}

function finishReason(stopReason: string, signal: AbortSignal): FinishReason {
  if (signal.aborted || stopReason === "abort") return "cancelled";
  return stopReason === "maxTokens" ? "length" : "stop";
}
