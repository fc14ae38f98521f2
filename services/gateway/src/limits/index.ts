export { RateLimiterUnavailableError } from "./errors.js";
export { rateLimitBucketName } from "./kv-store.js";
export {
  type Admission,
  type AdmitRequest,
  type RateLimitDecision,
  RateLimiter,
  type RateLimiterOptions,
} from "./limiter.js";
export { rateLimitMetrics } from "./metrics.js";
export type { LimitName, Scope, ScopeKind } from "./types.js";
export { WINDOW_MS } from "./window.js";
