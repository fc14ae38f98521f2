import { TtlLru } from "./lru.js";

function lru(opts: { maxEntries?: number; maxBytes?: number } = {}) {
  const clock = { now: 1_000 };
  const cache = new TtlLru<string>({
    maxEntries: opts.maxEntries ?? 10,
    maxBytes: opts.maxBytes ?? 1_000,
    now: () => clock.now,
  });
  const put = (key: string, bytes = 10, ttl = 100) =>
    cache.set(key, `value of ${key}`, { bytes, expiresAt: clock.now + ttl });
  const has = (key: string) => cache.get(key) !== undefined;
  return { cache, clock, put, has };
}

describe("TtlLru", () => {
  it("keeps the byte total equal to what it holds through overwrites, evictions and expiry", () => {
    const { cache, clock, put, has } = lru({ maxBytes: 100 });
    put("a", 30);
    put("a", 40);
    expect(cache.totalBytes).toBe(40);
    put("b", 50);
    put("c", 20); // 110 > 100: evicts a
    expect([has("a"), cache.size, cache.totalBytes]).toEqual([false, 2, 70]);
    clock.now += 100;
    expect(has("b")).toBe(false);
    expect(cache.totalBytes).toBe(20);
    cache.delete("c");
    expect([cache.size, cache.totalBytes]).toEqual([0, 0]);
  });

  it("evicts several old entries to make room for a large one", () => {
    const { cache, put, has } = lru({ maxBytes: 100 });
    for (const key of ["a", "b", "c", "d"]) put(key, 25);
    put("e", 70);
    expect(["a", "b", "c", "d", "e"].map(has)).toEqual([false, false, false, true, true]);
    expect(cache.totalBytes).toBe(95);
  });

  it("refuses a value larger than the whole budget and keeps what it had", () => {
    const { cache, put, has } = lru({ maxBytes: 100 });
    put("a", 60);
    expect(put("huge", 101)).toBe(false);
    expect([has("a"), has("huge"), cache.totalBytes]).toEqual([true, false, 60]);
  });

  it("refuses a value that has already expired", () => {
    const { put, has } = lru();
    expect(put("a", 10, 0)).toBe(false);
    expect(has("a")).toBe(false);
  });

  it("reports when a value expires", () => {
    const { cache, clock, put } = lru();
    put("a", 10, 250);
    expect(cache.get("a")).toEqual({ value: "value of a", expiresAt: clock.now + 250 });
  });
});
