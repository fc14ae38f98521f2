import type { FailurePolicy } from "../api/types.js";

const MAX_BACKOFF_SECONDS = 600;

/**
 * Whether an exit code restarts the job. Without a list, codes of 128 and above (the process was
 * killed by a signal: OOM killer, preemption, node shutdown) are worth a restart and 1-127 (the
 * program itself gave up: bad arguments, a bug, a missing file) are not.
 */
export function isRetryable(exitCode: number, policy: Pick<FailurePolicy, "retryableExitCodes">): boolean {
  if (exitCode === 0) return false;
  const list = policy.retryableExitCodes;
  if (list !== undefined && list.length > 0) return list.includes(exitCode);
  return exitCode >= 128;
}

/** Delay before restart number `restarts + 1`: backoffSeconds doubled per earlier restart, capped. */
export function backoffSeconds(restarts: number, policy: Pick<FailurePolicy, "backoffSeconds">): number {
  return Math.min(MAX_BACKOFF_SECONDS, policy.backoffSeconds * 2 ** Math.min(restarts, 30));
}
