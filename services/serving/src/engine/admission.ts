import { ResourceExhaustedError } from "@sloughgpt/runtime";

/**
 * Hands out `slots` permits in FIFO order with a bounded wait queue. A request past the
 * queue bound is refused at once rather than left to hang; an aborted waiter leaves the queue.
 */
export class Admission {
  private inUse = 0;
  private readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(
    private readonly slots: number,
    private readonly maxQueue: number,
  ) {}

  get running(): number {
    return this.inUse;
  }

  get queued(): number {
    return this.waiters.length;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.inUse < this.slots && this.waiters.length === 0) {
      this.inUse += 1;
      return this.releaser();
    }
    if (this.waiters.length >= this.maxQueue) {
      throw new ResourceExhaustedError(`server busy: ${this.inUse} running, ${this.waiters.length} queued`, {
        reason: "server_overloaded",
      });
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiters.push(waiter);
      signal?.addEventListener(
        "abort",
        () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) {
            this.waiters.splice(i, 1);
            reject(signal.reason);
          }
        },
        { once: true },
      );
    });
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // The permit passes straight to the next waiter, so inUse stays the same.
      if (next) next.resolve();
      else this.inUse -= 1;
    };
  }
}
