import { setTimeout as sleep } from "node:timers/promises";
import { CounterContentionError, Counters, type LeasePolicy } from "./counters.js";
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

describe("Counters with leases", () => {
  // Every write counts as busy, so leases grow 1, 2, 4, 8; a quarter of what is left at most.
  const policy: LeasePolicy = { maxRequests: 8, share: 1 / 4, busyMs: 60_000, idleMs: 20, maxAgeMs: 60_000 };
  const reserveTokens = (rpm: number | undefined, tpm: number, tokens: number): Op => ({
    type: "reserve",
    cost: { requests: 1, tokens },
    limits: { rpm, tpm },
  });

  async function until(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 500 && !(await check()); i++) await sleep(5);
    expect(await check()).toBe(true);
  }

  it("admits a busy counter's requests from a reserve written ahead, one write per lease", async () => {
    const { counting, store, calls } = countingStore();
    const counters = new Counters(counting, policy);
    for (let i = 0; i < 40; i++) expect((await counters.apply("k.a.1", 1, reserve(1_000))).ok).toBe(true);
    // Writes grant 0, 1, 2, 4, then 8 at a time: far fewer writes than requests.
    expect(calls.writes).toBeLessThan(12);
    const held = counters.held("k.a.1").requests;
    expect(held).toBeGreaterThan(0);
    expect((await store.read("k.a.1")).usage.requests).toBe(40 + held);
  });

  it("serves what queued behind a write from the lease that write brought", async () => {
    const { counting, calls } = countingStore();
    const counters = new Counters(counting, policy);
    let admitted = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 50; i++) if ((await counters.apply("k.a.1", 1, reserve(100_000))).ok) admitted++;
      }),
    );
    expect(admitted).toBe(200);
    // Leases of 8 once grown: about one write per 8 requests, not one per batch of the four loops.
    expect(calls.writes).toBeLessThan(40);
  });

  it("holds no lease where a limit has little left, so the last requests are counted one by one", async () => {
    const { counting, calls } = countingStore();
    const counters = new Counters(counting, policy);
    // rpm 7: a quarter of what is left reaches one request only while 4 or more are left.
    const verdicts = [];
    for (let i = 0; i < 9; i++) verdicts.push(await counters.apply("k.a.1", 1, reserve(7)));
    expect(verdicts.filter((v) => v.ok)).toHaveLength(7);
    expect(counters.held("k.a.1")).toEqual({ requests: 0, tokens: 0 });
    // The second write holds one more (5 left after it), the third is taken from it; then one each.
    expect(calls.writes).toBe(6);
  });

  it("sizes a lease's tokens by the batch's requests and never leaves the tpm short of a whole one", async () => {
    const { counting, store } = countingStore();
    const counters = new Counters(counting, policy);
    for (let i = 0; i < 6; i++)
      expect((await counters.apply("t.a.1", 1, reserveTokens(undefined, 10_000, 100))).ok).toBe(true);
    const held = counters.held("t.a.1");
    expect(held.tokens).toBe(held.requests * 100);
    expect((await store.read("t.a.1")).usage).toEqual({
      requests: 6 + held.requests,
      tokens: 600 + held.tokens,
    });
  });

  it("keeps a refund in the lease without a write, and returns the whole lease once it is idle", async () => {
    const { counting, store, calls } = countingStore();
    const counters = new Counters(counting, policy);
    for (let i = 0; i < 10; i++) await counters.apply("t.a.1", 1, reserveTokens(1_000, 100_000, 50));
    const writes = calls.writes;
    await counters.applyLater("t.a.1", 1, { type: "adjust", delta: { requests: 0, tokens: -30 } }, 60_000);
    expect(calls.writes).toBe(writes);
    await until(async () => (await store.read("t.a.1")).usage.requests === 10);
    expect((await store.read("t.a.1")).usage).toEqual({ requests: 10, tokens: 10 * 50 - 30 });
    expect(counters.held("t.a.1")).toEqual({ requests: 0, tokens: 0 });
  });

  it("takes a request under changed limits to the store, not from a lease granted under the old ones", async () => {
    const { counting, calls } = countingStore();
    const counters = new Counters(counting, policy);
    // Writes hold 0, 1, then 2 more: the fifth request leaves one held.
    for (let i = 0; i < 5; i++) await counters.apply("k.a.1", 1, reserve(1_000));
    expect(counters.held("k.a.1").requests).toBeGreaterThan(0);
    const writes = calls.writes;
    expect((await counters.apply("k.a.1", 1, reserve(5))).ok).toBe(false);
    expect(calls.writes).toBe(writes + 1);
    // The refusal's write gave the lease back: the stored value is what was admitted.
    expect(counters.held("k.a.1")).toEqual({ requests: 0, tokens: 0 });
  });

  it("grants no lease to requests that estimate no tokens in a tpm scope", async () => {
    const { counting, calls } = countingStore();
    const counters = new Counters(counting, policy);
    for (let i = 0; i < 8; i++) await counters.apply("t.a.1", 1, reserveTokens(undefined, 1_000, 0));
    expect(counters.held("t.a.1")).toEqual({ requests: 0, tokens: 0 });
    expect(calls.writes).toBe(8);
  });

  it("returns a lease in steady use once it is maxAgeMs old", async () => {
    const { counting, store } = countingStore();
    const counters = new Counters(counting, { ...policy, idleMs: 60_000, maxAgeMs: 30 });
    // Writes hold 0, 1, then 2 more: the fifth request leaves one held.
    for (let i = 0; i < 5; i++) await counters.apply("k.a.1", 1, reserve(1_000));
    expect(counters.held("k.a.1").requests).toBeGreaterThan(0);
    await until(async () => counters.held("k.a.1").requests === 0);
    expect((await store.read("k.a.1")).usage.requests).toBe(5);
  });

  it("gives every lease back when closed, and takes none after", async () => {
    const { counting, store } = countingStore();
    const counters = new Counters(counting, { ...policy, idleMs: 60_000 });
    // Writes hold 0, 1, then 2 more: the fifth request leaves one held.
    for (let i = 0; i < 5; i++) await counters.apply("k.a.1", 1, reserve(1_000));
    expect(counters.held("k.a.1").requests).toBeGreaterThan(0);
    await counters.close();
    expect((await store.read("k.a.1")).usage.requests).toBe(5);
    for (let i = 0; i < 4; i++) await counters.apply("k.a.1", 1, reserve(1_000));
    expect(counters.held("k.a.1")).toEqual({ requests: 0, tokens: 0 });
    expect((await store.read("k.a.1")).usage.requests).toBe(9);
  });

  it("keeps its lease when a write is refused for a lost race or a failed read, not for a failed write", async () => {
    const store = new MemoryStore(120_000);
    let failReads = false;
    let failWrites = false;
    const flaky: CounterStore = {
      read: (key) => (failReads ? Promise.reject(new Error("read failed")) : store.read(key)),
      write: (key, usage, revision) =>
        failWrites ? Promise.reject(new Error("write timed out")) : store.write(key, usage, revision),
    };
    const counters = new Counters(flaky, { ...policy, idleMs: 60_000 });
    const other = new Counters(store);
    // Writes hold 0, 1, then 2 more: the fifth request leaves one held.
    for (let i = 0; i < 5; i++) await counters.apply("k.a.1", 1, reserve(1_000));
    // Another replica writes: this one reads before its next write from now on.
    await other.apply("k.a.1", 1, reserve(1_000));
    const held = counters.held("k.a.1");
    expect(held.requests).toBeGreaterThan(0);
    failReads = true;
    await expect(counters.apply("k.a.1", 1, reserve(1_001))).rejects.toThrow("read failed");
    expect(counters.held("k.a.1")).toEqual(held);
    failReads = false;
    failWrites = true;
    await expect(counters.apply("k.a.1", 1, reserve(1_001))).rejects.toThrow("write timed out");
    expect(counters.held("k.a.1")).toEqual({ requests: 0, tokens: 0 });
  });

  it("never lets replicas holding leases admit more than the limit, and loses nothing once they are idle", async () => {
    const store = new MemoryStore(120_000);
    const replicas = [new Counters(store, policy), new Counters(store, policy), new Counters(store, policy)];
    const rpm = 300;
    let admitted = 0;
    // Closed loops, four per replica, until every replica has been refused several times.
    await Promise.all(
      replicas.flatMap((counters) =>
        Array.from({ length: 4 }, async () => {
          for (let refusals = 0; refusals < 5; ) {
            if ((await counters.apply("k.hot.1", 1, reserve(rpm))).ok) admitted++;
            else refusals++;
          }
        }),
      ),
    );
    expect(admitted).toBeLessThanOrEqual(rpm);
    const held = replicas.reduce((n, c) => n + c.held("k.hot.1").requests, 0);
    expect(admitted + held).toBe(rpm);
    await until(async () => (await store.read("k.hot.1")).usage.requests === admitted);
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
