/**
 * A work queue keyed `namespace/name`: a key waiting is queued once however often it is added, a key
 * being processed is never processed twice at once (an add meanwhile runs it again afterwards), and
 * addAfter re-adds a key later (the earliest pending time wins).
 */
export class WorkQueue {
  private readonly waiting = new Set<string>();
  private readonly order: string[] = [];
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private wake?: () => void;
  private closed = false;

  constructor(private readonly now: () => number = Date.now) {}

  get length(): number {
    return this.order.length;
  }

  add(key: string): void {
    if (this.closed) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.waiting.has(key)) return;
    this.waiting.add(key);
    this.order.push(key);
    this.wake?.();
  }

  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** The next key, waiting for one; undefined once the queue is closed or the signal aborts. */
  async next(signal: AbortSignal): Promise<string | undefined> {
    while (!this.closed && !signal.aborted) {
      const key = this.order.shift();
      if (key !== undefined) {
        this.waiting.delete(key);
        this.active.add(key);
        return key;
      }
      await new Promise<void>((resolve) => {
        // One listener per wait, removed again: a long-lived signal must not collect them.
        const onAbort = () => resolve();
        this.wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        signal.addEventListener("abort", onAbort, { once: true });
      });
      this.wake = undefined;
    }
    return undefined;
  }

  /** Ends processing of `key`; if it was added meanwhile it is queued again. */
  done(key: string): void {
    this.active.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  close(): void {
    this.closed = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.wake?.();
  }
}
