import { setMaxListeners } from "node:events";
import type { Driver } from "./driver.js";
import { requestsPerClient } from "./schedule.js";

export interface LoadResult {
  tokens: number;
  seconds: number;
  ttftMs: number[];
}

/**
 * Runs `fn` with a signal of its own that aborts with `parent`: listeners a client library leaves on
 * the signal it was given (the SDK and node-llama-cpp both add some) go with the request, not onto the
 * run's signal.
 */
async function withChildSignal<T>(parent: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort(parent.reason);
  parent.addEventListener("abort", onAbort, { once: true });
  try {
    return await fn(ctl.signal);
  } finally {
    parent.removeEventListener("abort", onAbort);
  }
}

/**
 * Closed loop: `concurrency` clients, each sending its next request as soon as the previous one
 * ends, until every client has sent its share of `requests`. The first failure stops the others.
 */
export async function runLoad(
  driver: Driver,
  load: { concurrency: number; requests: number },
  signal: AbortSignal,
): Promise<LoadResult> {
  const perClient = requestsPerClient(load.requests, load.concurrency);
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  // Every request in flight listens on it once (withChildSignal).
  setMaxListeners(load.concurrency + 10, both);
  const ttftMs: number[] = [];
  let tokens = 0;
  let firstError: unknown;
  const client = async () => {
    for (let i = 0; i < perClient; i++) {
      both.throwIfAborted();
      const sample = await withChildSignal(both, (signal) => driver.complete(signal));
      tokens += sample.tokens;
      ttftMs.push(sample.ttftMs);
    }
  };
  const started = performance.now();
  const settled = await Promise.allSettled(
    Array.from({ length: load.concurrency }, () =>
      client().catch((error: unknown) => {
        if (!stop.signal.aborted) firstError = error;
        stop.abort(error);
        throw error;
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  if (settled.some((s) => s.status === "rejected")) throw firstError;
  return { tokens, seconds, ttftMs };
}
