import { TtlCache } from "./cache.js";

function clock() {
  let t = 1_000;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe("TtlCache", () => {
  it("serves a value until its TTL runs out, then loads again", async () => {
    const c = clock();
    const cache = new TtlCache<string>({ ttlMs: 1000, maxEntries: 10, now: c.now });
    let loads = 0;
    const load = async (k: string) => `${k}${++loads}`;
    expect(await cache.get("a", load)).toBe("a1");
    c.advance(999);
    expect(await cache.get("a", load)).toBe("a1");
    c.advance(1);
    expect(await cache.get("a", load)).toBe("a2");
  });

  it("caches absence like presence", async () => {
    const cache = new TtlCache<string | null>({ ttlMs: 1000, maxEntries: 10 });
    let loads = 0;
    const load = async () => {
      loads++;
      return null;
    };
    await cache.get("missing", load);
    await cache.get("missing", load);
    expect(loads).toBe(1);
  });

  it("shares one load among concurrent misses", async () => {
    const cache = new TtlCache<number>({ ttlMs: 1000, maxEntries: 10 });
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 5));
      return 7;
    };
    expect(await Promise.all([cache.get("k", load), cache.get("k", load), cache.get("k", load)])).toEqual([
      7, 7, 7,
    ]);
    expect(loads).toBe(1);
  });

  it("drops an evicted entry at once", async () => {
    const cache = new TtlCache<string>({ ttlMs: 60_000, maxEntries: 10 });
    let v = "old";
    await cache.get("k", async () => v);
    v = "new";
    cache.delete("k");
    expect(await cache.get("k", async () => v)).toBe("new");
  });

  it("keeps a load that raced an eviction out of the cache", async () => {
    const cache = new TtlCache<string>({ ttlMs: 60_000, maxEntries: 10 });
    let release: (v: string) => void = () => undefined;
    const inFlight = cache.get("k", () => new Promise<string>((r) => (release = r)));
    cache.delete("k");
    release("read before the revocation");
    await inFlight;
    expect(await cache.get("k", async () => "fresh")).toBe("fresh");
  });

  it("holds at most maxEntries, dropping the oldest", async () => {
    const cache = new TtlCache<string>({ ttlMs: 60_000, maxEntries: 2 });
    for (const k of ["a", "b", "c"]) await cache.get(k, async () => k);
    expect(cache.size).toBe(2);
    let reloaded = false;
    await cache.get("a", async () => {
      reloaded = true;
      return "a";
    });
    expect(reloaded).toBe(true);
  });

  it("does not cache with a zero TTL", async () => {
    const cache = new TtlCache<string>({ ttlMs: 0, maxEntries: 2 });
    await cache.get("a", async () => "a");
    expect(cache.size).toBe(0);
  });

  it("does not cache a failed load", async () => {
    const cache = new TtlCache<string>({ ttlMs: 1000, maxEntries: 2 });
    await expect(cache.get("a", () => Promise.reject(new Error("db down")))).rejects.toThrow("db down");
    expect(await cache.get("a", async () => "a")).toBe("a");
  });
});
