import type { Usage } from "./types.js";

/** A counter's value and the revision a conditional write must name (0: never written). */
export interface Stored {
  usage: Usage;
  revision: number;
}

/** Where counters live: compare-and-set on one key is all the limiter needs. */
export interface CounterStore {
  read(key: string): Promise<Stored>;
  /** Stores `usage` if `key` is still at `revision`: the new revision, or undefined when another writer came first. */
  write(key: string, usage: Usage, revision: number): Promise<number | undefined>;
}
