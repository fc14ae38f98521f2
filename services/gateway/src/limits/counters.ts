import { setTimeout as sleep } from "node:timers/promises";
import { add, applyBatch, type Limits, type Op, sameUsage, type Verdict } from "./decide.js";
import type { CounterStore, Stored } from "./store.js";
import { NO_USAGE, type Usage } from "./types.js";

/** Conditional writes that lose to another replica are retried this often before the batch fails. */
const MAX_ATTEMPTS = 32;
/** Past this many cells, idle ones are forgotten (what they remember only saves a read). */
const MAX_CELLS = 20_000;

/** A counter kept changing under this replica's writes until it gave up. */
export class CounterContentionError extends Error {
  constructor(key: string) {
    super(`Gave up on counter ${key} after ${MAX_ATTEMPTS} conflicting writes`);
    this.name = "CounterContentionError";
  }
}

/**
 * Leases: a replica under steady load on a counter reserves a little more than its batch needs in the
 * same conditional write, and admits its next requests from that reserve without a round trip. What
 * it holds is counted in the shared value, so no limit can be exceeded; what it does not use goes back
 * with its next write of the counter, or after `idleMs` without use.
 */
export interface LeasePolicy {
  /** Most requests one lease holds (0: no leases, every request writes). */
  maxRequests: number;
  /** A lease takes at most this fraction of what a limit has left (1/64 → leases stop below 64 left). */
  share: number;
  /** A counter written again within this time is busy: its lease doubles, else it lapses to none. */
  busyMs: number;
  /** An unused lease goes back after this long without a request taking from it. */
  idleMs: number;
  /** ... and at the latest this long after it was granted, however it is used. */
  maxAgeMs: number;
}

export const DEFAULT_LEASE: LeasePolicy = {
  maxRequests: 64,
  share: 1 / 64,
  busyMs: 250,
  idleMs: 500,
  maxAgeMs: 1_000,
};

interface Pending {
  op: Op;
  resolve: (v: Verdict) => void;
  reject: (err: unknown) => void;
}

interface Cell {
  windowId: number;
  /** The value and revision this process last read or wrote; possibly stale. */
  known: Stored | undefined;
  /** Another replica wrote this key since this one last did: read before writing, rather than guess. */
  contended: boolean;
  queue: Pending[];
  /** Ops that may wait for the next write of this key (see applyLater). */
  later: Pending[];
  laterTimer: NodeJS.Timeout | undefined;
  draining: boolean;
  /** Reserved in the stored value by this process and not yet used by a request. */
  held: Usage;
  /** Requests the next lease asks for (doubles while the counter is busy, up to maxRequests). */
  leaseSize: number;
  /** The last write that reserved also granted a lease: refunds stay in it instead of being written. */
  leasing: boolean;
  /** The limits the lease was granted under: a request under other limits (changed since) writes. */
  leaseLimits: Limits | undefined;
  grantedAt: number;
  lastReserveWrite: number;
  /** The last request admitted from the lease (refunds do not count: they do not show use). */
  lastLeaseUse: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * Counters in a CounterStore, one per key (scope × window), changed only by compare-and-set.
 * Every op this process makes on a key goes through that key's cell: one conditional write per key
 * is in flight at a time, and the ops that queued behind it are decided together and stored as one
 * value. A hot key therefore costs one write per batch rather than one per request, and write
 * conflicts happen only between replicas.
 */
export class Counters {
  private readonly cells = new Map<string, Cell>();
  private latestWindow = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(
    private readonly store: CounterStore,
    private readonly lease: LeasePolicy | undefined = undefined,
  ) {}

  /**
   * Queues `op` on `key`; settles once the value deciding it is stored (or found to need no write).
   * A reserve this process's lease on `key` covers, or an adjust it can absorb, settles at once.
   */
  apply(key: string, windowId: number, op: Op): Promise<Verdict> {
    const cell = this.cell(key, windowId);
    const leased = this.fromLease(key, cell, op);
    if (leased) return Promise.resolve(leased);
    return new Promise<Verdict>((resolve, reject) => {
      cell.queue.push({ op, resolve, reject });
      // drain() never rejects: its outcome reaches every caller through their own promise.
      if (!cell.draining) void this.drain(key, cell);
    });
  }

  /**
   * Like apply, for an op that need not be stored at once (a settle's correction): it rides along
   * with the next write of `key` this process makes within `lingerMs`, or is written alone then. A
   * steady stream of requests thus costs one write each, not two.
   */
  applyLater(key: string, windowId: number, op: Op, lingerMs: number): Promise<Verdict> {
    const cell = this.cell(key, windowId);
    const leased = this.fromLease(key, cell, op);
    if (leased) return Promise.resolve(leased);
    return new Promise<Verdict>((resolve, reject) => {
      cell.later.push({ op, resolve, reject });
      cell.laterTimer ??= setTimeout(() => {
        cell.laterTimer = undefined;
        cell.queue.push(...cell.later.splice(0));
        if (!cell.draining && cell.queue.length > 0) void this.drain(key, cell);
      }, lingerMs);
    });
  }

  /** Whether the last value seen of `key` would refuse `op`; false when nothing is known. */
  predictsRefusal(key: string, op: Op): boolean {
    const cell = this.cells.get(key);
    if (!cell?.known || (op.type === "reserve" && covers(cell.held, op.cost))) return false;
    return applyBatch(minus(cell.known.usage, cell.held), [op]).verdicts[0]?.ok === false;
  }

  /** What this process holds on `key` beyond what its requests used (0 without leases). */
  held(key: string): Usage {
    return this.cells.get(key)?.held ?? NO_USAGE;
  }

  get size(): number {
    return this.cells.size;
  }

  private cell(key: string, windowId: number): Cell {
    let cell = this.cells.get(key);
    if (cell) return cell;
    if (windowId > this.latestWindow || this.cells.size >= MAX_CELLS) {
      this.latestWindow = Math.max(windowId, this.latestWindow);
      this.forgetIdle(this.cells.size >= MAX_CELLS ? Number.POSITIVE_INFINITY : windowId);
    }
    cell = {
      windowId,
      known: undefined,
      contended: false,
      queue: [],
      later: [],
      laterTimer: undefined,
      draining: false,
      held: NO_USAGE,
      leaseSize: 0,
      leasing: false,
      leaseLimits: undefined,
      grantedAt: 0,
      lastReserveWrite: Number.NEGATIVE_INFINITY,
      lastLeaseUse: Number.NEGATIVE_INFINITY,
      idleTimer: undefined,
    };
    this.cells.set(key, cell);
    return cell;
  }

  private forgetIdle(beforeWindow: number): void {
    for (const [key, cell] of this.cells) {
      const idle = !cell.draining && cell.queue.length === 0 && cell.later.length === 0;
      if (cell.windowId < beforeWindow && idle) {
        // A past window's lease needs no returning: its counter decides nothing any more. (Past
        // MAX_CELLS a current one can be forgotten too; its counter then stays that much higher.)
        clearTimeout(cell.idleTimer);
        this.cells.delete(key);
      }
    }
  }

  /** Takes a reserve from the lease, or keeps an adjust in it; undefined when the store must decide. */
  private fromLease(key: string, cell: Cell, op: Op): Verdict | undefined {
    if (!cell.leasing || !cell.known) return undefined;
    if (op.type === "reserve") {
      if (!covers(cell.held, op.cost) || !sameLimits(op.limits, cell.leaseLimits)) return undefined;
      cell.held = minus(cell.held, op.cost);
      cell.lastLeaseUse = performance.now();
    } else if (op.type === "adjust") {
      const d = op.delta;
      // A refund (a settle below its estimate, a roll-back) stays reserved, for the next requests; an
      // overage is taken from the lease when the lease covers it.
      const refund = d.requests <= 0 && d.tokens <= 0;
      if (!refund && !(d.requests >= 0 && d.tokens >= 0 && covers(cell.held, d))) return undefined;
      cell.held = minus(cell.held, d);
    } else {
      return undefined;
    }
    this.watchIdle(key, cell);
    return { ok: true, usage: minus(cell.known.usage, cell.held) };
  }

  /** How many requests this write's lease asks for: more while the counter is busy, none once it is not. */
  private nextLeaseSize(cell: Cell, ops: readonly Op[]): number {
    if (!this.lease || this.closed || !ops.some((op) => op.type === "reserve")) return 0;
    const now = performance.now();
    // Busy: requests came within busyMs, through the lease or through writes.
    const busy = now - Math.max(cell.lastReserveWrite, cell.lastLeaseUse) < this.lease.busyMs;
    cell.lastReserveWrite = now;
    cell.leaseSize = busy ? Math.min(this.lease.maxRequests, Math.max(1, cell.leaseSize * 2)) : 0;
    return cell.leaseSize;
  }

  /** The lease stored along with `end`: `size` requests like the batch's, within `share` of what is left. */
  private grant(size: number, end: Usage, ops: readonly Op[]): Usage {
    if (size === 0 || !this.lease) return NO_USAGE;
    let limits: Limits = {};
    let perRequest = 0;
    for (const op of ops) {
      if (op.type !== "reserve") continue;
      limits = op.limits;
      perRequest = Math.max(perRequest, op.cost.tokens);
    }
    const { share } = this.lease;
    // Requests that estimate no tokens must still stop once a tpm is used up (see exceeded): a lease
    // would admit them past it, so they get none.
    if (limits.tpm !== undefined && perRequest === 0) return NO_USAGE;
    let requests = size;
    if (limits.rpm !== undefined)
      requests = Math.min(requests, Math.floor((limits.rpm - end.requests) * share));
    if (limits.tpm !== undefined) {
      const tokens = Math.floor((limits.tpm - end.tokens) * share);
      requests = Math.min(requests, Math.floor(tokens / perRequest));
    }
    return requests > 0 ? { requests, tokens: requests * perRequest } : NO_USAGE;
  }

  private hold(key: string, cell: Cell, grant: Usage, ops: readonly Op[]): void {
    // Refunds kept while the write was under way are added to the new lease.
    cell.held = add(cell.held, grant);
    // Close to a limit no lease is granted, and refunds and roll-backs are written again at once.
    let limits: Limits | undefined;
    for (const op of ops) if (op.type === "reserve") limits = op.limits;
    if (limits) {
      cell.leasing = !isZero(grant);
      cell.leaseLimits = limits;
    }
    if (isZero(grant)) return;
    cell.grantedAt = performance.now();
    this.watchIdle(key, cell);
  }

  /**
   * Returns what is held once nothing has taken from it for idleMs, or maxAgeMs after it was granted,
   * with a write of its own.
   */
  private watchIdle(key: string, cell: Cell): void {
    if (!this.lease || cell.idleTimer) return;
    const { idleMs, maxAgeMs } = this.lease;
    const dueIn = () =>
      Math.min(Math.max(cell.lastLeaseUse, cell.grantedAt) + idleMs, cell.grantedAt + maxAgeMs) -
      performance.now();
    const check = () => {
      const wait = dueIn();
      if (wait > 0) {
        cell.idleTimer = setTimeout(check, wait).unref();
        return;
      }
      cell.idleTimer = undefined;
      void this.giveBack(key, cell);
    };
    cell.idleTimer = setTimeout(check, Math.max(0, dueIn())).unref();
  }

  /** Ends the lease on `key`: what is held goes back with a write (an adjust of nothing; see commit). */
  private giveBack(key: string, cell: Cell): Promise<unknown> {
    cell.leaseSize = 0;
    cell.leasing = false;
    if (isZero(cell.held)) return Promise.resolve();
    return new Promise((resolve) => {
      cell.queue.push({ op: { type: "adjust", delta: NO_USAGE }, resolve, reject: resolve });
      if (!cell.draining) void this.drain(key, cell);
    });
  }

  /**
   * Gives every lease back and takes no new ones: at shutdown, or when these counters are replaced,
   * so that what this process held is not lost to the other replicas until the window ends.
   */
  async close(): Promise<void> {
    this.closed = true;
    const returns: Promise<unknown>[] = [];
    for (const [key, cell] of this.cells) {
      clearTimeout(cell.idleTimer);
      cell.idleTimer = undefined;
      returns.push(this.giveBack(key, cell));
    }
    await Promise.all(returns);
  }

  private async drain(key: string, cell: Cell): Promise<void> {
    cell.draining = true;
    while (cell.queue.length > 0) {
      // What queued behind the last write may fit in the lease that write brought.
      const queued = cell.queue.splice(0).filter((p) => {
        const leased = this.fromLease(key, cell, p.op);
        if (leased) p.resolve(leased);
        return !leased;
      });
      if (queued.length === 0) break;
      // Deferred ops ride along with this write; their timer then has nothing left to do.
      const batch = [...queued, ...cell.later.splice(0)];
      if (cell.laterTimer) {
        clearTimeout(cell.laterTimer);
        cell.laterTimer = undefined;
      }
      try {
        const verdicts = await this.commit(
          key,
          cell,
          batch.map((p) => p.op),
        );
        for (const [i, p] of batch.entries()) p.resolve(verdicts[i]!);
      } catch (err) {
        cell.known = undefined;
        cell.leaseSize = 0;
        cell.leasing = false;
        // What queued meanwhile would wait for the same failure again; fail it now.
        for (const p of [...batch, ...cell.queue.splice(0)]) p.reject(err);
      }
    }
    cell.draining = false;
  }

  /** Decides `ops` against the stored value and writes the outcome, re-reading after a lost race. */
  private async commit(key: string, cell: Cell, ops: Op[]): Promise<Verdict[]> {
    // The lease goes back with this write (and a new one may come with it): none is taken meanwhile.
    const release = cell.held;
    cell.held = NO_USAGE;
    const size = this.nextLeaseSize(cell, ops);
    let writing = false;
    try {
      return await this.decideAndWrite(key, cell, ops, release, size, (w) => {
        writing = w;
      });
    } catch (err) {
      // Nothing was written (a read failed, or every write lost a race): the lease is still held. A
      // write that failed may or may not have given it back: count it as used (errs towards refusing).
      if (!writing) cell.held = add(cell.held, release);
      throw err;
    }
  }

  private async decideAndWrite(
    key: string,
    cell: Cell,
    ops: Op[],
    release: Usage,
    size: number,
    writing: (w: boolean) => void,
  ): Promise<Verdict[]> {
    let state = cell.contended ? undefined : cell.known;
    let fresh = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!state) {
        state = await this.store.read(key);
        fresh = true;
      }
      const { end, verdicts } = applyBatch(minus(state.usage, release), ops);
      // A refusal must rest on the stored value, not on what this process last saw of it.
      if (!fresh && verdicts.some((v) => !v.ok)) {
        state = undefined;
        continue;
      }
      const grant = verdicts.some((v) => !v.ok) ? NO_USAGE : this.grant(size, end, ops);
      const stored = add(end, grant);
      if (sameUsage(stored, state.usage)) {
        cell.known = state;
        this.hold(key, cell, grant, ops);
        return verdicts;
      }
      writing(true);
      const revision = await this.store.write(key, stored, state.revision);
      writing(false);
      if (revision !== undefined) {
        cell.known = { usage: stored, revision };
        this.hold(key, cell, grant, ops);
        return verdicts;
      }
      state = undefined;
      fresh = false;
      cell.contended = true;
      // Replicas that keep colliding on one key are spread a little so that they stop meeting.
      if (attempt > 2) await sleep(Math.random() * attempt);
    }
    throw new CounterContentionError(key);
  }
}

const covers = (held: Usage, cost: Usage): boolean =>
  held.requests >= cost.requests && held.tokens >= cost.tokens;
/** `a − b`, never below zero (a counter never is). */
const minus = (a: Usage, b: Usage): Usage => ({
  requests: Math.max(0, a.requests - b.requests),
  tokens: Math.max(0, a.tokens - b.tokens),
});
const isZero = (u: Usage): boolean => u.requests === 0 && u.tokens === 0;
const sameLimits = (a: Limits, b: Limits | undefined): boolean =>
  b !== undefined && a.rpm === b.rpm && a.tpm === b.tpm;
