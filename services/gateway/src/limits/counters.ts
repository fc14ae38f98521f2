import { setTimeout as sleep } from "node:timers/promises";
import { applyBatch, type Op, sameUsage, type Verdict } from "./decide.js";
import type { CounterStore, Stored } from "./store.js";

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

  constructor(private readonly store: CounterStore) {}

  /** Queues `op` on `key`; settles once the value deciding it is stored (or found to need no write). */
  apply(key: string, windowId: number, op: Op): Promise<Verdict> {
    const cell = this.cell(key, windowId);
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
    const known = this.cells.get(key)?.known;
    return known !== undefined && applyBatch(known.usage, [op]).verdicts[0]?.ok === false;
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
    };
    this.cells.set(key, cell);
    return cell;
  }

  private forgetIdle(beforeWindow: number): void {
    for (const [key, cell] of this.cells) {
      const idle = !cell.draining && cell.queue.length === 0 && cell.later.length === 0;
      if (cell.windowId < beforeWindow && idle) this.cells.delete(key);
    }
  }

  private async drain(key: string, cell: Cell): Promise<void> {
    cell.draining = true;
    while (cell.queue.length > 0) {
      // Deferred ops ride along with this write; their timer then has nothing left to do.
      const batch = [...cell.queue.splice(0), ...cell.later.splice(0)];
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
        // What queued meanwhile would wait for the same failure again; fail it now.
        for (const p of [...batch, ...cell.queue.splice(0)]) p.reject(err);
      }
    }
    cell.draining = false;
  }

  /** Decides `ops` against the stored value and writes the outcome, re-reading after a lost race. */
  private async commit(key: string, cell: Cell, ops: Op[]): Promise<Verdict[]> {
    let state = cell.contended ? undefined : cell.known;
    let fresh = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      if (!state) {
        state = await this.store.read(key);
        fresh = true;
      }
      const { end, verdicts } = applyBatch(state.usage, ops);
      // A refusal must rest on the stored value, not on what this process last saw of it.
      if (!fresh && verdicts.some((v) => !v.ok)) {
        state = undefined;
        continue;
      }
      if (sameUsage(end, state.usage)) {
        cell.known = state;
        return verdicts;
      }
      const revision = await this.store.write(key, end, state.revision);
      if (revision !== undefined) {
        cell.known = { usage: end, revision };
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
