import { UnavailableError } from "@sloughgpt/runtime";

/** Fail-closed: the shared counters could not be reached, so no request is admitted (HTTP 503). */
export class RateLimiterUnavailableError extends UnavailableError {
  constructor(opts: { cause?: unknown } = {}) {
    super("Rate limits cannot be checked right now; try again shortly", {
      cause: opts.cause,
      reason: "rate_limiter_unavailable",
    });
  }
}
