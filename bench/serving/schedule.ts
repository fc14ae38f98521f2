import { PATHS, type PathName } from "./report.js";

export interface Step {
  round: number;
  concurrency: number;
  path: PathName;
}

/**
 * Every path at every concurrency in every round, the paths of one level back to back so that
 * they see the same machine. The path order rotates from round to round, so no path always runs
 * first (just after a level change) or last.
 */
export function schedule(rounds: number, levels: readonly number[]): Step[] {
  const steps: Step[] = [];
  for (let round = 0; round < rounds; round++) {
    const order = rotate(PATHS, round);
    for (const concurrency of levels) {
      for (const path of order) steps.push({ round, concurrency, path });
    }
  }
  return steps;
}

/** Requests per client so every client runs the same number and the level totals at least `requests`. */
export function requestsPerClient(requests: number, concurrency: number): number {
  return Math.max(1, Math.ceil(requests / concurrency));
}

/** The items starting at index `round` (wrapping around), so that no item always runs first or last. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  return items.map((_, i) => items[(i + round) % items.length] as T);
}

/** Every item once per round, the order rotated from round to round. */
export function interleave<T>(items: readonly T[], rounds: number): { round: number; item: T }[] {
  return Array.from({ length: rounds }, (_, round) =>
    rotate(items, round).map((item) => ({ round, item })),
  ).flat();
}
