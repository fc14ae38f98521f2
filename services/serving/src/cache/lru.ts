interface Slot<V> {
  value: V;
  bytes: number;
  /** Epoch ms after which the value is gone. */
  expiresAt: number;
}

export interface TtlLruOptions {
  maxEntries: number;
  maxBytes: number;
  /** Epoch ms. */
  now: () => number;
}

/**
 * Least-recently-used map bounded by entry count and by the sum of the sizes its callers
 * declare, with a per-entry expiry. Expired entries are dropped when read, and otherwise
 * age towards the least-recently-used end where eviction takes them first.
 */
export class TtlLru<V> {
  // A Map iterates in insertion order: re-inserting on use keeps the oldest use first.
  private readonly slots = new Map<string, Slot<V>>();
  private bytes = 0;

  constructor(private readonly opts: TtlLruOptions) {}

  get size(): number {
    return this.slots.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** The live value, now the most recently used; undefined when absent or expired. */
  get(key: string): { value: V; expiresAt: number } | undefined {
    const slot = this.slots.get(key);
    if (!slot) return undefined;
    this.slots.delete(key);
    if (slot.expiresAt <= this.opts.now()) {
      this.bytes -= slot.bytes;
      return undefined;
    }
    this.slots.set(key, slot);
    return { value: slot.value, expiresAt: slot.expiresAt };
  }

  /**
   * Stores the value as the most recently used, evicting the least recently used until both
   * bounds hold. False, storing nothing, when the value alone exceeds maxBytes or has expired.
   */
  set(key: string, value: V, opts: { bytes: number; expiresAt: number }): boolean {
    this.delete(key);
    if (opts.bytes > this.opts.maxBytes || opts.expiresAt <= this.opts.now()) return false;
    while (this.slots.size > 0 && !this.fits(opts.bytes)) this.evictOldest();
    this.slots.set(key, { value, ...opts });
    this.bytes += opts.bytes;
    return true;
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    this.bytes -= slot.bytes;
  }

  private fits(bytes: number): boolean {
    return this.slots.size < this.opts.maxEntries && this.bytes + bytes <= this.opts.maxBytes;
  }

  private evictOldest(): void {
    const oldest = this.slots.keys().next();
    if (!oldest.done) this.delete(oldest.value);
  }
}
