/**
 * A small read-through cache with a TTL and a size bound. Absent values (`null`) are cached like
 * present ones, so a made-up key id costs the store no more than a real one. Concurrent misses
 * for one key share one load. An eviction during a load keeps that load's (possibly stale)
 * result out of the cache.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private readonly loading = new Map<string, Promise<V>>();
  private evictions = 0;
  private readonly now: () => number;

  constructor(private readonly opts: { ttlMs: number; maxEntries: number; now?: () => number }) {
    this.now = opts.now ?? Date.now;
  }

  async get(key: string, load: (key: string) => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    if (hit) this.entries.delete(key);
    const pending = this.loading.get(key);
    if (pending) return pending;
    const evictionsBefore = this.evictions;
    const promise = load(key)
      .then((value) => {
        if (this.evictions === evictionsBefore) this.set(key, value);
        return value;
      })
      .finally(() => this.loading.delete(key));
    this.loading.set(key, promise);
    return promise;
  }

  delete(key: string): void {
    this.evictions++;
    this.entries.delete(key);
    this.loading.delete(key);
  }

  clear(): void {
    this.evictions++;
    this.entries.clear();
    this.loading.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private set(key: string, value: V): void {
    if (this.opts.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + this.opts.ttlMs });
    // Maps iterate in insertion order: the first entry is the oldest.
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
