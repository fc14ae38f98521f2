import type { CounterStore, Stored } from "./store.js";
import { NO_USAGE, type Usage } from "./types.js";

/**
 * This replica's own counters: the fail-open fallback while the shared ones cannot be reached.
 * Entries go `ttlMs` after their last write, like the shared bucket's.
 */
export class MemoryStore implements CounterStore {
  private readonly entries = new Map<string, Stored & { writtenAt: number }>();
  private revision = 0;
  private sweptAt: number;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.sweptAt = now();
  }

  async read(key: string): Promise<Stored> {
    const e = this.entries.get(key);
    return e ? { usage: e.usage, revision: e.revision } : { usage: NO_USAGE, revision: 0 };
  }

  async write(key: string, usage: Usage, revision: number): Promise<number | undefined> {
    if ((this.entries.get(key)?.revision ?? 0) !== revision) return undefined;
    this.sweep();
    this.revision += 1;
    this.entries.set(key, { usage, revision: this.revision, writtenAt: this.now() });
    return this.revision;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    if (now - this.sweptAt < this.ttlMs) return;
    this.sweptAt = now;
    for (const [key, e] of this.entries) if (now - e.writtenAt >= this.ttlMs) this.entries.delete(key);
  }
}
