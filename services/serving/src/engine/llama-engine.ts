import { stat } from "node:fs/promises";
import { validateLlamaGguf } from "@sloughgpt/gguf";
import { InvalidArgumentError, type Logger, NotFoundError, UnavailableError } from "@sloughgpt/runtime";
import {
  getLlama,
  type Llama,
  LlamaChatSession,
  LlamaCompletion,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
} from "node-llama-cpp";
import { Admission } from "./admission.js";
import { toChatHistory } from "./chat.js";
import {
  DEFAULT_MAX_TOKENS,
  type EmbedResult,
  type Engine,
  type FinishReason,
  type GenerateParams,
  type GenerateResult,
  type ModelInfo,
} from "./engine.js";
import { l2Normalize } from "./vectors.js";

export interface LlamaEngineOptions {
  modelPath: string;
  modelId: string;
  threads: number;
  sequences: number;
  contextSize: number;
  gpu: "false" | "auto" | "cuda" | "vulkan";
  gpuLayers: number;
  maxQueue: number;
  logger: Logger;
}

/** llama.cpp through node-llama-cpp: one context with N sequences shared by concurrent requests. */
export class LlamaEngine implements Engine {
  private embedding: Promise<LlamaEmbeddingContext> | undefined;
  /** Aborted by close(): running requests stop before their contexts are disposed. */
  private readonly closing = new AbortController();
  private readonly active = new Set<Promise<unknown>>();
  /** One embedding context, used by one request at a time. */
  private readonly embedAdmission: Admission;

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly info: ModelInfo,
    private readonly admission: Admission,
    /** Sequences not in use. Admission guarantees one is free for every permit it grants. */
    private readonly idle: LlamaContextSequence[],
    private readonly threads: number,
    maxQueue: number,
  ) {
    this.embedAdmission = new Admission(1, maxQueue);
  }

  static async load(opts: LlamaEngineOptions): Promise<LlamaEngine> {
    const started = Date.now();
    // llama.cpp aborts the whole process on some malformed files; check the header first.
    const gguf = await validateLlamaGguf(opts.modelPath);
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
    const info: ModelInfo = {
      id: opts.modelId,
      contextSize: context.contextSize,
      quantization: quantizationName(gguf.llama.fileType),
      createdUnix: Math.floor((await stat(opts.modelPath)).mtimeMs / 1000),
    };
    opts.logger.info(
      { model: info.id, contextSize: info.contextSize, sequences: opts.sequences, ms: Date.now() - started },
      "Loaded model",
    );
    // Sequences are taken once and reused: a disposed sequence frees its slot only asynchronously.
    const idle = Array.from({ length: opts.sequences }, () => context.getSequence());
    return new LlamaEngine(
      llama,
      model,
      context,
      info,
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

  models(): ModelInfo[] {
    return [this.info];
  }

  /**
   * The generation budget: max_tokens when given, else the default capped by what the context has
   * left. A prompt that leaves no room is refused instead of silently losing its start.
   * Counts message text only, so the chat template's few tokens are the remaining slack.
   */
  private budget(params: GenerateParams): number {
    const text =
      params.input.kind === "prompt"
        ? params.input.prompt
        : params.input.messages.map((m) => m.content).join("\n");
    const promptTokens = this.model.tokenize(text).length;
    // Keep a few tokens free (BOS, template markers): a full context makes the engine shift it,
    // re-evaluating the prompt and dropping its start.
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

  private checkModel(model: string): void {
    if (model !== this.info.id) {
      throw new NotFoundError(`The model '${model}' does not exist`, {
        param: "model",
        reason: "model_not_found",
      });
    }
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

  embed(model: string, inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult> {
    return this.track(opts.signal, (signal) => this.embedNow(model, inputs, signal));
  }

  private async embedNow(model: string, inputs: string[], signal: AbortSignal): Promise<EmbedResult> {
    this.checkModel(model);
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

  generate(
    params: GenerateParams,
    opts: { signal: AbortSignal; onDelta: (text: string) => Promise<void> | void },
  ): Promise<GenerateResult> {
    return this.track(opts.signal, (signal) => this.generateNow(params, { ...opts, signal }));
  }

  private async generateNow(
    params: GenerateParams,
    opts: { signal: AbortSignal; onDelta: (text: string) => Promise<void> | void },
  ): Promise<GenerateResult> {
    this.checkModel(params.model);
    if (params.maxTokens !== undefined && params.maxTokens >= this.info.contextSize) {
      throw new InvalidArgumentError(
        `max_tokens (${params.maxTokens}) must be less than the model's context size (${this.info.contextSize})`,
        { param: "max_tokens", reason: "context_length_exceeded" },
      );
    }
    const maxTokens = this.budget(params);
    const release = await this.admission.acquire(opts.signal);
    const sequence = this.idle.pop();
    if (!sequence) {
      release();
      throw new Error("admission granted a permit without a free sequence");
    }
    try {
      return await this.run(sequence, { ...params, maxTokens }, opts);
    } finally {
      await sequence.clearHistory();
      this.idle.push(sequence);
      release();
    }
  }

  private async run(
    sequence: LlamaContextSequence,
    params: GenerateParams,
    opts: { signal: AbortSignal; onDelta: (text: string) => Promise<void> | void },
  ): Promise<GenerateResult> {
    let pending = Promise.resolve();
    const meter = {
      input: sequence.tokenMeter.usedInputTokens,
      output: sequence.tokenMeter.usedOutputTokens,
    };
    const common = {
      maxTokens: params.maxTokens,
      temperature: params.temperature ?? 0,
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(params.stop.length > 0 ? { customStopTriggers: params.stop } : {}),
      signal: opts.signal,
      stopOnAbortSignal: true,
      onTextChunk: (text: string) => {
        pending = pending.then(() => opts.onDelta(text));
      },
    };
    let stopReason: string;
    if (params.input.kind === "chat") {
      const { history, prompt } = toChatHistory(params.input.messages);
      const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
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
    return {
      finishReason: finishReason(stopReason, opts.signal),
      promptTokens: sequence.tokenMeter.usedInputTokens - meter.input,
      completionTokens: sequence.tokenMeter.usedOutputTokens - meter.output,
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

// llama.h `enum llama_ftype`, the common ones.
const FILE_TYPES: Record<number, string> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  7: "Q8_0",
  15: "Q4_K_M",
  17: "Q5_K_M",
  18: "Q6_K",
};

function quantizationName(fileType: number | undefined): string {
  return fileType === undefined ? "unknown" : (FILE_TYPES[fileType] ?? `ftype_${fileType}`);
}

function finishReason(stopReason: string, signal: AbortSignal): FinishReason {
  if (signal.aborted || stopReason === "abort") return "cancelled";
  return stopReason === "maxTokens" ? "length" : "stop";
}
