import type { PathName } from "./report.js";

/** The prompt of every benchmark request: 33 tokens of the bench model's vocabulary. */
export const BENCH_PROMPT = "Once upon a time, in a quiet valley between two rivers, there lived";

/** What every request asks for: the same prompt continued greedily for the same number of tokens. */
export interface Workload {
  prompt: string;
  maxTokens: number;
}

export interface Sample {
  /** From sending the request to the first non-empty text. */
  ttftMs: number;
  /** Generated tokens as the engine counted them. */
  tokens: number;
}

/** One way of running a completion; safe to call concurrently up to the context's sequence count. */
export interface Driver {
  readonly path: PathName;
  complete(signal: AbortSignal): Promise<Sample>;
  close(): Promise<void>;
}

/** Records when a request started and when its first text arrived. */
export function firstTextTimer() {
  const started = performance.now();
  let first = 0;
  return {
    onText(text: string | undefined): void {
      if (text && first === 0) first = performance.now();
    },
    /** Time to the first text; a request that produced none counts its whole duration. */
    ttftMs(): number {
      return (first || performance.now()) - started;
    },
  };
}
