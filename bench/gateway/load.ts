import { setMaxListeners } from "node:events";
import { requestsPerClient } from "../serving/schedule.js";
import type { Driver } from "./driver.js";

export interface LoadResult {
  seconds: number;
  /** One per request, in completion order. */
  latenciesMs: number[];
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
  // Every request in flight listens on it (node:http and grpc-js each add one).
  setMaxListeners(4 * load.concurrency + 10, both);
  const latenciesMs: number[] = [];
  let firstError: unknown;
  const client = async () => {
    for (let i = 0; i < perClient; i++) {
      both.throwIfAborted();
      const sent = performance.now();
      await driver.request(both);
      latenciesMs.push(performance.now() - sent);
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
  return { seconds, latenciesMs };
}
