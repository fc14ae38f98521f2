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
    const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length] as PathName);
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
