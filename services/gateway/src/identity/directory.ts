import { TtlCache } from "./cache.js";
import type { IdentityStore } from "./store.js";
import type { Limits, StoredKey } from "./types.js";
import { NO_LIMITS } from "./types.js";

/** What authentication needs from the key store. */
export interface KeyLookup {
  findKey(id: string): Promise<StoredKey | null>;
  teamLimits(team: string): Promise<Limits>;
}

/**
 * Cached reads of keys and team limits, so authentication does not query Postgres on every
 * request. Entries live `ttlMs` (the backstop for revocations and limit changes); a revocation
 * also evicts at once through `evict`, which every replica calls when it hears of it over NATS.
 */
export class KeyDirectory implements KeyLookup {
  private readonly keys: TtlCache<StoredKey | null>;
  private readonly teams: TtlCache<Limits>;

  constructor(
    private readonly store: IdentityStore,
    opts: { ttlMs: number; maxEntries?: number; now?: () => number },
  ) {
    const cacheOpts = { ttlMs: opts.ttlMs, maxEntries: opts.maxEntries ?? 10_000, now: opts.now };
    this.keys = new TtlCache(cacheOpts);
    this.teams = new TtlCache(cacheOpts);
  }

  findKey(id: string): Promise<StoredKey | null> {
    return this.keys.get(id, (k) => this.store.findKey(k));
  }

  teamLimits(team: string): Promise<Limits> {
    return this.teams.get(team, async (t) => (await this.store.findTeam(t))?.limits ?? NO_LIMITS);
  }

  evictKey(id: string): void {
    this.keys.delete(id);
  }

  /** A team's limits changed: drop it and the keys that carry a copy of them. */
  evictTeam(team: string): void {
    this.teams.delete(team);
    this.keys.clear();
  }
}
