import { rotate } from "../serving/schedule.js";
import { PATHS, type PathName } from "./report.js";

export interface Step {
  round: number;
  concurrency: number;
  path: PathName;
}

/**
 * Every path at every concurrency in every round, the paths of one level back to back so their
 * ratios compare the same minute of a shared machine; the path order rotates from round to round.
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
