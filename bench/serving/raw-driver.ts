import {
  getLlama,
  type Llama,
  LlamaCompletion,
  type LlamaContext,
  type LlamaContextSequence,
  LlamaLogLevel,
  type LlamaModel,
} from "node-llama-cpp";
import { type Driver, firstTextTimer, type Sample, type Workload } from "./driver.js";

export interface RawOptions {
  modelPath: string;
  threads: number;
  sequences: number;
  contextSize: number;
}

/**
 * node-llama-cpp alone, in this process: the decoding loop serving wraps, so the upper bound of
 * what serving can deliver. It does what serving's engine does per request and nothing else.
 */
export class RawDriver implements Driver {
  readonly path = "raw";

  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    /** Taken once and reused: a disposed sequence frees its slot only asynchronously. */
    private readonly idle: LlamaContextSequence[],
    private readonly workload: Workload,
  ) {}

  static async load(opts: RawOptions, workload: Workload): Promise<RawDriver> {
    const llama = await getLlama({
      gpu: false,
      build: "never",
      maxThreads: opts.threads,
      logLevel: LlamaLogLevel.error,
    });
    const model = await llama.loadModel({ modelPath: opts.modelPath });
    const context = await model.createContext({
      sequences: opts.sequences,
      threads: opts.threads,
      contextSize: opts.contextSize,
    });
    const idle = Array.from({ length: opts.sequences }, () => context.getSequence());
    return new RawDriver(llama, model, context, idle, workload);
  }

  async complete(signal: AbortSignal): Promise<Sample> {
    const sequence = this.idle.pop();
    if (!sequence) throw new Error("more concurrent requests than sequences");
    const timer = firstTextTimer();
    const before = sequence.tokenMeter.usedOutputTokens;
    const completion = new LlamaCompletion({ contextSequence: sequence });
    try {
      await completion.generateCompletion(this.workload.prompt, {
        maxTokens: this.workload.maxTokens,
        temperature: 0,
        signal,
        onTextChunk: (text) => timer.onText(text),
      });
      return { ttftMs: timer.ttftMs(), tokens: sequence.tokenMeter.usedOutputTokens - before };
    } finally {
      // Like serving, a sequence keeps its tokens, so a prompt it already holds is not evaluated again.
      completion.dispose({ disposeSequence: false });
      this.idle.push(sequence);
    }
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
