import type { Readable, Writable } from "node:stream";
import type { TrainingJob } from "../api/types.js";

/**
 * What torchrun's agent gives each process it starts on a node, for the local backend, which starts a
 * node's `procsPerNode` processes itself: global `RANK`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE` and
 * `GROUP_RANK` (the node's index). Ranks of node `i` are `i × procsPerNode … (i + 1) × procsPerNode − 1`.
 */
export function localRankEnv(job: TrainingJob, nodeIndex: number, localRank: number): Record<string, string> {
  const procs = job.spec.procsPerNode;
  if (!Number.isInteger(localRank) || localRank < 0 || localRank >= procs) {
    throw new RangeError(`local rank ${localRank} is outside 0..${procs - 1}`);
  }
  return {
    RANK: String(nodeIndex * procs + localRank),
    LOCAL_RANK: String(localRank),
    LOCAL_WORLD_SIZE: String(procs),
    GROUP_RANK: String(nodeIndex),
  };
}

/** Longest run without a newline held back before it is written as a line of its own. */
const MAX_PARTIAL = 64 * 1024;

/**
 * Copies `source` to `out` line by line with `prefix` in front of each line (as torchrun's `--tee` marks
 * ranks). A last line without a newline is written when `source` ends, which is before its process's
 * "close" event.
 */
export function prefixLines(source: Readable, out: Writable, prefix: string): void {
  let partial = "";
  source.setEncoding("utf8");
  source.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    // A line that never ends (a progress bar redrawn with \r) is written in pieces, not held forever.
    if (partial.length > MAX_PARTIAL) {
      lines.push(partial);
      partial = "";
    }
    if (lines.length > 0) out.write(lines.map((l) => `${prefix}${l}\n`).join(""));
  });
  source.on("end", () => {
    if (partial) out.write(`${prefix}${partial}\n`);
    partial = "";
  });
}
