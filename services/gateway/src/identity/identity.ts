import type { KeyDirectory } from "./directory.js";
import type { IdentityEvents } from "./events.js";
import type { IdentityStore } from "./store.js";
import type { ApiKey, Limits, NewKey, Team } from "./types.js";

/**
 * Key and team administration: writes go to the store, then this replica's cache is evicted and
 * every other replica is told over NATS (`events`), so a revocation takes effect everywhere at once.
 */
export class Identity {
  constructor(
    readonly store: IdentityStore,
    readonly directory: KeyDirectory,
    private readonly events?: IdentityEvents,
  ) {}

  createKey(k: NewKey): Promise<{ apiKey: ApiKey; key: string }> {
    return this.store.createKey(k);
  }

  listKeys(filter: { team?: string | undefined } = {}): Promise<ApiKey[]> {
    return this.store.listKeys(filter);
  }

  async revokeKey(id: string): Promise<ApiKey | null> {
    const key = await this.store.revokeKey(id);
    if (key) {
      this.directory.evictKey(id);
      this.events?.keyRevoked(id);
    }
    return key;
  }

  async upsertTeam(name: string, limits: Limits): Promise<{ team: Team; created: boolean }> {
    const result = await this.store.upsertTeam(name, limits);
    this.directory.evictTeam(name);
    this.events?.teamChanged(name);
    return result;
  }

  listTeams(): Promise<Team[]> {
    return this.store.listTeams();
  }
}
