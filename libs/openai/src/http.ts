import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import { CancelledError } from "@sloughgpt/runtime";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The caller's `x-request-id` when it is a plain token (letters, digits, `._-`, up to 128), else a new one. */
export function requestIdFrom(given: string | string[] | undefined): string {
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Aborted when the client goes away before its response is complete, or when the server's shutdown
 * grace period runs out (`shutdown`, with `shuttingDown` as the reason): either cancels the request's
 * upstream work.
 */
export function requestSignal(res: ServerResponse, shutdown: AbortSignal, shuttingDown: string): AbortSignal {
  const ctl = new AbortController();
  const onShutdown = () => ctl.abort(new CancelledError(shuttingDown));
  shutdown.addEventListener("abort", onShutdown, { once: true });
  res.once("close", () => {
    // The shutdown signal lives as long as the server: drop this request's listener with the request.
    shutdown.removeEventListener("abort", onShutdown);
    if (!res.writableFinished) ctl.abort(new CancelledError("client disconnected"));
  });
  return ctl.signal;
}
