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

/**
 * Free GPUs per schedulable node, also grouped by how many are free, so placing a job without a node
 * selector costs O(distinct free counts + pods) instead of a sort of every node.
 */
class Pool {
  private readonly free = new Map<string, number>();
  private readonly levels = new Map<number, Set<string>>();

  constructor(
    private readonly nodes: NodeCapacity[],
    used: GpuUse[],
  ) {
    for (const n of nodes) if (n.schedulable) this.set(n.name, n.allocatableGpus);
    for (const u of used) {
      const left = u.nodeName === undefined ? undefined : this.free.get(u.nodeName);
      if (left !== undefined) this.set(u.nodeName!, left - u.gpus);
    }
  }

  private set(name: string, value: number): void {
    const old = this.free.get(name);
    if (old !== undefined) this.levels.get(old)?.delete(name);
    this.free.set(name, value);
    const level = this.levels.get(value) ?? new Set<string>();
    level.add(name);
    this.levels.set(value, level);
  }

  /** Schedulable nodes matching the selector; undefined stands for all of them (no selector). */
  candidates(selector?: Record<string, string>): string[] | undefined {
    if (!selector || Object.keys(selector).length === 0) return undefined;
    return this.nodes.filter((n) => this.free.has(n.name) && matches(n.labels, selector)).map((n) => n.name);
  }

  count(names: string[] | undefined): number {
    return names === undefined ? this.free.size : names.length;
  }

  available(names: string[] | undefined): number {
    let total = 0;
    for (const n of names ?? this.free.keys()) total += Math.max(0, this.free.get(n)!);
    return total;
  }

  /**
   * Most-free nodes first, so a gang packs onto few nodes. Lazy: a placement reads only as many nodes
   * as it needs, not every node of the cluster for every pod.
   */
  private *byFree(names: string[] | undefined): Iterable<string> {
    if (names !== undefined) {
      yield* [...names].sort((a, b) => this.free.get(b)! - this.free.get(a)!);
      return;
    }
    for (const level of [...this.levels.keys()].sort((a, b) => b - a)) yield* this.levels.get(level)!;
  }

  /** Places `count` pods of `gpus` each; with `commit` the GPUs are taken, otherwise only checked. */
  place(names: string[] | undefined, count: number, gpus: number, commit = true): boolean {
    if (gpus === 0) return true;
    const taken: [string, number][] = [];
    let left = count;
    for (const n of this.byFree(names)) {
      if (left === 0) break;
      const fits = Math.min(left, Math.floor(this.free.get(n)! / gpus));
      if (fits <= 0) break;
      taken.push([n, fits]);
      left -= fits;
    }
    if (left > 0) return false;
    if (commit) for (const [n, pods] of taken) this.set(n, this.free.get(n)! - pods * gpus);
    return true;
  }
}

function decide(pool: Pool, d: Demand, commit = true): Admission {
  const names = pool.candidates(d.nodeSelector);
  const needed = d.numNodes * d.gpusPerNode;
  if (pool.count(names) === 0) {
    return {
      admit: false,
      reason: "NoMatchingNodes",
      message: "no schedulable node matches the nodeSelector",
    };
  }
  const available = pool.available(names);
  if (pool.place(names, d.numNodes, d.gpusPerNode, commit)) {
    return { admit: true, message: `admitted: ${needed} GPUs on ${d.numNodes} nodes` };
  }
  const spread = available >= needed ? ` (no ${d.numNodes} nodes with ${d.gpusPerNode} free each)` : "";
  return {
    admit: false,
    reason: "InsufficientGpus",
    message: `needs ${needed} GPUs, ${available} free${spread}`,
  };
}

function admitOne(pool: Pool, d: Demand, blocker: string | undefined): Admission {
  if (d.gpusPerNode === 0) return { admit: true, message: `admitted: ${d.numNodes} nodes without GPUs` };
  if (blocker === undefined) return decide(pool, d);
  const wait = decide(pool, d, false);
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
  const pool = new Pool(input.nodes, input.used);
  for (const r of input.reserved) {
    if (r.gpus > 0) pool.place(pool.candidates(r.nodeSelector), 1, r.gpus);
  }
  const out = new Map<string, Admission>();
  const blockedBy = new Map<string, string>();
  for (const d of [...input.waiting].sort(queueOrder)) {
    const a = admitOne(pool, d, blockedBy.get(d.queue ?? ""));
    out.set(d.key, a);
    if (!a.admit && d.gpusPerNode > 0) blockedBy.set(d.queue ?? "", blockedBy.get(d.queue ?? "") ?? d.key);
  }
  return out;
}
