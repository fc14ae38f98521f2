import { CounterContentionError, Counters } from "./counters.js";
import type { Op } from "./decide.js";
import { MemoryStore } from "./memory-store.js";
import type { CounterStore } from "./store.js";

const reserve = (rpm: number): Op => ({ type: "reserve", cost: { requests: 1, tokens: 0 }, limits: { rpm } });
const adjust = (requests: number): Op => ({ type: "adjust", delta: { requests, tokens: 0 } });

/** The store the fail-open path uses, with its reads and writes counted (and optionally interfered with). */
function countingStore(store = new MemoryStore(120_000)) {
  const calls = { reads: 0, writes: 0 };
  let beforeWrite: (() => Promise<void>) | undefined;
  const counting: CounterStore = {
    read: (key) => {
      calls.reads++;
      return store.read(key);
    },
    write: async (key, usage, revision) => {
      calls.writes++;
      const interfere = beforeWrite;
      beforeWrite = undefined;
      await interfere?.();
      return store.write(key, usage, revision);
    },
  };
  return {
    counting,
    store,
    calls,
    interfereOnce: (f: () => Promise<void>) => {
      beforeWrite = f;
    },
  };
}

describe("Counters", () => {
  it("admits exactly the limit from concurrent ops and writes them in batches", async () => {
    const { counting, calls } = countingStore();
    const counters = new Counters(counting);
    const verdicts = await Promise.all(
      Array.from({ length: 100 }, () => counters.apply("k.a.1", 1, reserve(10))),
    );
    expect(verdicts.filter((v) => v.ok)).toHaveLength(10);
    expect(calls.writes).toBeLessThan(10);
  });

  it("decides again after losing a write to another replica", async () => {
    const { counting, store, interfereOnce } = countingStore();
    const counters = new Counters(counting);
    const other = new Counters(store);
    await counters.apply("k.a.1", 1, reserve(3));
    // Another replica takes two of the three between this replica's read and its write.
    interfereOnce(async () => {
      await other.apply("k.a.1", 1, reserve(3));
      await other.apply("k.a.1", 1, reserve(3));
    });
    const verdicts = await Promise.all([
      counters.apply("k.a.1", 1, reserve(3)),
      counters.apply("k.a.1", 1, reserve(3)),
    ]);
    expect(verdicts.map((v) => v.ok)).toEqual([false, false]);
    expect((await store.read("k.a.1")).usage.requests).toBe(3);
  });

  it("refuses only on a value read from the store, not on a stale one", async () => {
    const { counting, store, calls } = countingStore();
    const counters = new Counters(counting);
    const other = new Counters(store);
    await counters.apply("k.a.1", 1, reserve(1));
    expect(counters.predictsRefusal("k.a.1", reserve(1))).toBe(true);
    await other.apply("k.a.1", 1, adjust(-1));
    const reads = calls.reads;

    expect((await counters.apply("k.a.1", 1, reserve(1))).ok).toBe(true);
    expect(calls.reads).toBe(reads + 1);
  });

  it("fails every op waiting on a key whose store fails, then reads it afresh", async () => {
    const store = new MemoryStore(120_000);
    let broken = true;
    const failing: CounterStore = {
      read: (key) => (broken ? Promise.reject(new Error("down")) : store.read(key)),
      write: (key, usage, revision) => store.write(key, usage, revision),
    };
    const counters = new Counters(failing);
    const results = await Promise.allSettled([
      counters.apply("k.a.1", 1, reserve(5)),
      counters.apply("k.a.1", 1, reserve(5)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    broken = false;
    expect(await counters.apply("k.a.1", 1, reserve(5))).toEqual({
      ok: true,
      usage: { requests: 1, tokens: 0 },
    });
  });

  it("stores a deferred op with the key's next write, or alone once its linger is over", async () => {
    const { counting, store, calls } = countingStore();
    const counters = new Counters(counting);
    await counters.apply("k.a.1", 1, reserve(10));
    const writes = calls.writes;
    const later = counters.applyLater("k.a.1", 1, adjust(5), 10_000);
    await counters.apply("k.a.1", 1, reserve(10));
    await later;
    // One write carried both; the 10 s linger was never waited for.
    expect(calls.writes).toBe(writes + 1);
    expect((await store.read("k.a.1")).usage.requests).toBe(1 + 1 + 5);

    const alone = counters.applyLater("k.a.1", 1, adjust(-5), 5);
    expect(calls.writes).toBe(writes + 1);
    await alone;
    expect(calls.writes).toBe(writes + 2);
    expect((await store.read("k.a.1")).usage.requests).toBe(2);
  });

  it("gives up with CounterContentionError on a key other writers keep winning", async () => {
    const store = new MemoryStore(120_000);
    let writes = 0;
    const alwaysLoses: CounterStore = {
      read: (key) => store.read(key),
      write: async () => {
        writes++;
        return undefined;
      },
    };
    const counters = new Counters(alwaysLoses);
    await expect(counters.apply("k.a.1", 1, reserve(10))).rejects.toBeInstanceOf(CounterContentionError);
    expect(writes).toBe(32);
  });

  it("forgets idle counters of past windows", async () => {
    const counters = new Counters(new MemoryStore(120_000));
    await counters.apply("k.a.1", 1, reserve(5));
    await counters.apply("k.b.1", 1, reserve(5));
    await counters.apply("k.a.2", 2, reserve(5));
    expect(counters.size).toBe(1);
  });
});

describe("MemoryStore", () => {
  it("writes only over the revision it was given and drops entries after their TTL", async () => {
    let now = 0;
    const store = new MemoryStore(1_000, () => now);
    const first = await store.write("a", { requests: 1, tokens: 0 }, 0);
    expect(first).toBe(1);
    expect(await store.write("a", { requests: 2, tokens: 0 }, 0)).toBeUndefined();
    now = 1_500;
    await store.write("b", { requests: 1, tokens: 0 }, 0);
    expect(await store.read("a")).toEqual({ usage: { requests: 0, tokens: 0 }, revision: 0 });
    expect(store.size).toBe(1);
  });
});
