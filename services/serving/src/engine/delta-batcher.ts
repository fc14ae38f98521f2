/** What one generation produced since its last delta was sent. */
export interface DeltaItem {
  id: number;
  text: string;
  /** Text chunks the engine produced, about one a token. */
  tokens: number;
}

export interface BatchClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const systemClock: BatchClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/**
 * Gathers the deltas of every running generation and sends them in one message at most every
 * `intervalMs`. Each message wakes the service process, then gRPC, the gateway and the client: one
 * a token costs more CPU than decoding it on a small machine. A generation's first delta goes at
 * once (time to first token is unchanged), and so does any delta after a quiet interval, so a
 * token waits at most `intervalMs`. Each generation's text keeps its order; 0 sends every delta.
 */
export class DeltaBatcher {
  private readonly held = new Map<number, DeltaItem>();
  private readonly started = new Set<number>();
  private lastSent = Number.NEGATIVE_INFINITY;
  private timer: unknown;
  private readonly clock: BatchClock;

  constructor(
    private readonly o: { intervalMs: number; send: (items: DeltaItem[]) => void; clock?: BatchClock },
  ) {
    this.clock = o.clock ?? systemClock;
  }

  add(id: number, text: string): void {
    const item = this.held.get(id);
    if (item) {
      item.text += text;
      item.tokens += 1;
    } else {
      this.held.set(id, { id, text, tokens: 1 });
    }
    const first = !this.started.has(id);
    this.started.add(id);
    const wait = this.lastSent + this.o.intervalMs - this.clock.now();
    if (first || wait <= 0) this.flush();
    else if (this.timer === undefined) {
      this.timer = this.clock.setTimeout(() => this.flush(), wait);
    }
  }

  /** Sends what is held now: a generation's result must follow its last delta. */
  flush(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.held.size === 0) return;
    const items = [...this.held.values()];
    this.held.clear();
    this.lastSent = this.clock.now();
    this.o.send(items);
  }

  /** A generation ended: what it still had held goes now, ahead of its result. */
  end(id: number): void {
    this.flush();
    this.started.delete(id);
  }
}
