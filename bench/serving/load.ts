import { setMaxListeners } from "node:events";
import type { Driver } from "./driver.js";
import { requestsPerClient } from "./schedule.js";

export interface LoadResult {
  tokens: number;
  seconds: number;
  ttftMs: number[];
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
  // Every request in flight listens on it (node-llama-cpp and grpc-js each add one).
  setMaxListeners(4 * load.concurrency + 10, both);
  const ttftMs: number[] = [];
  let tokens = 0;
  let firstError: unknown;
  const client = async () => {
    for (let i = 0; i < perClient; i++) {
      both.throwIfAborted();
      const sample = await driver.complete(both);
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
