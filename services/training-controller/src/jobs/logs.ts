import { InvalidArgumentError } from "@sloughgpt/runtime";

/** One node's log lines in a job's attempt. */
export interface NodeLogs {
  node: number;
  /** The pod, or the local log file, the lines come from. */
  source: string;
  attempt: number;
  text: string;
  /** Why `text` is empty, when it is. */
  message?: string;
}

export interface LogQuery {
  /** One node; every node when absent. */
  node?: number;
  tailLines: number;
  /** The attempt (restart count); the job's current one when absent. */
  attempt?: number;
}

/** The nodes a query reads: one, checked against the job's size, or all of them. */
export function nodesOf(numNodes: number, node: number | undefined): number[] {
  if (node === undefined) return Array.from({ length: numNodes }, (_, i) => i);
  if (node >= numNodes) {
    throw new InvalidArgumentError(
      `node ${node} does not exist: the job has ${numNodes} (0..${numNodes - 1})`,
    );
  }
  return [node];
}

/** The last `n` lines of `text`, keeping its final newline. */
export function lastLines(text: string, n: number): string {
  const ended = text.endsWith("\n");
  const lines = (ended ? text.slice(0, -1) : text).split("\n");
  if (text === "" || n <= 0) return "";
  return lines.slice(Math.max(0, lines.length - n)).join("\n") + (ended ? "\n" : "");
}

/** All the logs of one answer stay well under gRPC's 32 MiB message limit. */
const TOTAL_LOG_BYTES = 16 * 1024 * 1024;
const NODE_LOG_BYTES = 4 * 1024 * 1024;

/** Bytes of each node's log end that one answer reads: the whole budget shared by the nodes asked for. */
export function logBytesPerNode(query: LogQuery, numNodes: number): number {
  const nodes = query.node === undefined ? numNodes : 1;
  return Math.max(4096, Math.min(NODE_LOG_BYTES, Math.floor(TOTAL_LOG_BYTES / nodes)));
}
