import type { PathName } from "./report.js";

/** The one request every path sends: a short chat, greedy, so serving answers it from its response cache. */
export interface Workload {
  messages: { role: "user"; content: string }[];
  maxTokens: number;
}

export function benchWorkload(maxTokens: number): Workload {
  return { messages: [{ role: "user", content: "Tell me about the lighthouse keeper." }], maxTokens };
}

/** The OpenAI chat body for `model`: what the gateway, nginx and direct paths all post. */
export function chatBody(model: string, w: Workload): Record<string, unknown> {
  return { model, messages: w.messages, max_tokens: w.maxTokens, temperature: 0 };
}

/** One way of sending the workload's request; safe to call concurrently. */
export interface Driver {
  readonly path: PathName;
  /** Resolves when the whole answer has arrived and matched the expected text. */
  request(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** An answer that differs from serving's cached one: the paths would not be doing the same work. */
export class WrongAnswerError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "WrongAnswerError";
  }
}

export function checkText(path: PathName, text: string, expected: string): void {
  if (text !== expected) {
    throw new WrongAnswerError(
      `the ${path} path answered ${JSON.stringify(text.slice(0, 80))}, not serving's cached ` +
        `${JSON.stringify(expected.slice(0, 80))}`,
    );
  }
}
