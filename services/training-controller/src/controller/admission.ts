/**
 * Gang admission: a job starts only when every one of its pods has a node with enough free GPUs,
 * never some of them. Free GPUs are what schedulable nodes matching the job's selector can allocate,
 * minus what running pods request and what already admitted, not yet scheduled pods will need.
 */

export interface NodeCapacity {
  name: string;
  labels: Record<string, string>;
  allocatableGpus: number;
  schedulable: boolean;
}

/** A non-terminal pod's GPU request; nodeName unset while the scheduler has not bound it. */
export interface GpuUse {
  nodeName?: string;
  gpus: number;
  nodeSelector?: Record<string, string>;
}

export interface Demand {
  key: string;
  priority: number;
  /** Creation time in ms, for first-come order within a priority. */
  created: number;
  numNodes: number;
  gpusPerNode: number;
  nodeSelector?: Record<string, string>;
  /** Jobs hold back only jobs of their own queue. */
  queue?: string;
}

export type Admission =
  | { admit: true; message: string }
  | {
      admit: false;
      reason: "InsufficientGpus" | "NoMatchingNodes" | "WaitingBehindHigherPriority";
      message: string;
    };

export function matches(
  labels: Record<string, string>,
  selector: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/** Higher priority first, then older, then by key so the order is total. */
export function queueOrder(a: Demand, b: Demand): number {
  return b.priority - a.priority || a.created - b.created || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

type Free = Map<string, number>;

function freeGpus(nodes: NodeCapacity[], used: GpuUse[]): Free {
  const free: Free = new Map(nodes.filter((n) => n.schedulable).map((n) => [n.name, n.allocatableGpus]));
  for (const u of used) {
    if (u.nodeName !== undefined && free.has(u.nodeName)) {
      free.set(u.nodeName, free.get(u.nodeName)! - u.gpus);
    }
  }
  return free;
}

function candidates(free: Free, nodes: NodeCapacity[], selector?: Record<string, string>): string[] {
  return nodes.filter((n) => free.has(n.name) && matches(n.labels, selector)).map((n) => n.name);
}

/** Places `count` pods of `gpus` each, most-free node first; on success the GPUs are taken from `free`. */
function place(free: Free, names: string[], count: number, gpus: number): boolean {
  const trial = new Map(names.map((n) => [n, free.get(n)!]));
  for (let i = 0; i < count; i++) {
    const best = [...trial.entries()].sort((a, b) => b[1] - a[1])[0];
    if (!best || best[1] < gpus) return false;
    trial.set(best[0], best[1] - gpus);
  }
  for (const [n, left] of trial) free.set(n, left);
  return true;
}

const sum = (free: Free, names: string[]) => names.reduce((s, n) => s + Math.max(0, free.get(n)!), 0);

function decide(free: Free, nodes: NodeCapacity[], d: Demand): Admission {
  const names = candidates(free, nodes, d.nodeSelector);
  const needed = d.numNodes * d.gpusPerNode;
  if (names.length === 0) {
    return {
      admit: false,
      reason: "NoMatchingNodes",
      message: "no schedulable node matches the nodeSelector",
    };
  }
  const available = sum(free, names);
  if (place(free, names, d.numNodes, d.gpusPerNode)) {
    return { admit: true, message: `admitted: ${needed} GPUs on ${d.numNodes} nodes` };
  }
  const spread = available >= needed ? ` (no ${d.numNodes} nodes with ${d.gpusPerNode} free each)` : "";
  return {
    admit: false,
    reason: "InsufficientGpus",
    message: `needs ${needed} GPUs, ${available} free${spread}`,
  };
}

function admitOne(free: Free, nodes: NodeCapacity[], d: Demand, blocker: string | undefined): Admission {
  if (d.gpusPerNode === 0) return { admit: true, message: `admitted: ${d.numNodes} nodes without GPUs` };
  if (blocker === undefined) return decide(free, nodes, d);
  const wait = decide(new Map(free), nodes, d);
  const message = `waiting behind ${blocker}${wait.admit ? "" : `; ${wait.message}`}`;
  return { admit: false, reason: "WaitingBehindHigherPriority", message };
}

/**
 * Decides every waiting job at once, in queue order. A GPU job that does not fit holds back the GPU
 * jobs behind it in its queue, so a large job is not starved by a stream of small ones; jobs without
 * GPUs never wait.
 */
export function planAdmission(input: {
  nodes: NodeCapacity[];
  used: GpuUse[];
  reserved: GpuUse[];
  waiting: Demand[];
}): Map<string, Admission> {
  const free = freeGpus(input.nodes, input.used);
  for (const r of input.reserved) {
    if (r.gpus > 0) place(free, candidates(free, input.nodes, r.nodeSelector), 1, r.gpus);
  }
  const out = new Map<string, Admission>();
  const blockedBy = new Map<string, string>();
  for (const d of [...input.waiting].sort(queueOrder)) {
    const a = admitOne(free, input.nodes, d, blockedBy.get(d.queue ?? ""));
    out.set(d.key, a);
    if (!a.admit && d.gpusPerNode > 0) blockedBy.set(d.queue ?? "", blockedBy.get(d.queue ?? "") ?? d.key);
  }
  return out;
}
