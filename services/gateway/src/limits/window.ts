/** Limits are per minute: rpm and tpm count within fixed one-minute windows. */
export const WINDOW_MS = 60_000;

/**
 * A fixed window, numbered from the epoch. Every replica derives the same id from the same
 * (server-aligned) time, so they all count into the same counter without talking to each other.
 */
export interface Window {
  id: number;
  startMs: number;
  endMs: number;
}

export function windowAt(nowMs: number): Window {
  const id = Math.floor(nowMs / WINDOW_MS);
  return { id, startMs: id * WINDOW_MS, endMs: (id + 1) * WINDOW_MS };
}

/** Whole seconds until the window ends, at least 1: what `retry-after` says. */
export function retryAfterSeconds(window: Window, nowMs: number): number {
  return Math.max(1, Math.ceil((window.endMs - nowMs) / 1000));
}

/**
 * A duration the way OpenAI's `x-ratelimit-reset-*` headers write it (Go's format, to the
 * millisecond): `"350ms"`, `"1.5s"`, `"59s"`, `"1m0s"`.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total === 0) return "0s";
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = `${Number(((total % 60_000) / 1000).toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  return minutes > 0 ? `${minutes}m${seconds}` : seconds;
}
