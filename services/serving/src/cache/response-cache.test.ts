import type { Logger } from "@sloughgpt/runtime";
import { type CachedResponse, toCachedResponse } from "./entry.js";
import { InvalidCacheOptionsError, ResponseCache, type ResponseCacheOptions } from "./response-cache.js";

/** A logger that keeps what was logged at warn and above. */
function recordingLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at =
    (level: string) =>
    (obj: Record<string, unknown>, msg = "") =>
      void lines.push({ level, obj, msg });
  const quiet = () => undefined;
  const logger = { warn: at("warn"), error: at("error"), info: quiet, debug: quiet, trace: quiet };
  return { logger: { ...logger, child: () => logger } as unknown as Logger, lines };
}

const entry = (text: string, overrides: Partial<CachedResponse> = {}): CachedResponse => ({
  text,
  finishReason: "stop",
  promptTokens: 5,
  completionTokens: 3,
  ...overrides,
});

/** Stored size of entry(text) under a one-letter key: the key plus the JSON around the text. */
const sizeOf = (text: string) =>
  1 + Buffer.byteLength(JSON.stringify({ text, finishReason: "stop", promptTokens: 5, completionTokens: 3 }));

async function memoryCache(opts: Partial<ResponseCacheOptions> = {}) {
  const clock = { now: Date.UTC(2025, 0, 1) };
  const log = recordingLogger();
  const cache = await ResponseCache.open({
    maxEntries: 100,
    maxBytes: 1_000_000,
    ttlSeconds: 60,
    sharedMaxBytes: 1_000_000,
    logger: log.logger,
    now: () => clock.now,
    ...opts,
  });
  const text = async (key: string) => (await cache.get(key))?.entry.text;
  return { cache, clock, lines: log.lines, text };
}

describe("ResponseCache in memory", () => {
  it("returns a stored entry from the memory tier and nothing for an unknown key", async () => {
    const { cache } = await memoryCache();
    cache.set("a", entry("Hello"));

    expect(await cache.get("a")).toEqual({ entry: entry("Hello"), tier: "memory" });
    expect(await cache.get("b")).toBeUndefined();
  });

  it("evicts the least recently used entry once maxEntries is reached", async () => {
    const { cache, text } = await memoryCache({ maxEntries: 2 });
    cache.set("a", entry("A"));
    cache.set("b", entry("B"));
    await cache.get("a"); // a is now more recent than b
    cache.set("c", entry("C"));

    expect([await text("a"), await text("b"), await text("c")]).toEqual(["A", undefined, "C"]);
  });

  it("evicts the least recently used entries once maxBytes is reached", async () => {
    const { cache, text } = await memoryCache({ maxBytes: 2 * sizeOf("xxxx") });
    cache.set("a", entry("AAAA"));
    cache.set("b", entry("BBBB"));
    await cache.get("a");
    cache.set("c", entry("CCCC"));

    expect([await text("a"), await text("b"), await text("c")]).toEqual(["AAAA", undefined, "CCCC"]);
  });

  it("does not keep an entry larger than maxBytes, nor drop others for it", async () => {
    const { cache, text } = await memoryCache({ maxBytes: sizeOf("x".repeat(10)) });
    cache.set("a", entry("small"));
    cache.set("b", entry("x".repeat(11)));

    expect([await text("a"), await text("b")]).toEqual(["small", undefined]);
  });

  it("serves an entry for ttlSeconds after it was stored and not after", async () => {
    const { cache, clock, text } = await memoryCache({ ttlSeconds: 60 });
    cache.set("a", entry("A"));
    clock.now += 59_999;
    expect(await text("a")).toBe("A");
    clock.now += 1;
    expect(await text("a")).toBeUndefined();
  });

  it("does not extend an entry's life when it is read, only when it is stored again", async () => {
    const { cache, clock, text } = await memoryCache({ ttlSeconds: 10 });
    cache.set("a", entry("A"));
    cache.set("b", entry("B"));
    clock.now += 6_000;
    await cache.get("a");
    cache.set("b", entry("B2"));
    clock.now += 6_000;

    expect([await text("a"), await text("b")]).toEqual([undefined, "B2"]);
  });

  it("hands out entries a caller cannot change for the next reader", async () => {
    const { cache, text } = await memoryCache();
    const stored = entry("A");
    cache.set("a", stored);
    stored.text = "changed after set";
    const hit = await cache.get("a");

    expect(() => {
      if (hit) hit.entry.text = "changed after get";
    }).toThrow(TypeError);
    expect(await text("a")).toBe("A");
  });

  it.each<[string, CachedResponse]>([
    ["a cancelled result", { ...entry("partial"), finishReason: "cancelled" as "stop" }],
    ["negative token counts", entry("x", { promptTokens: -1 })],
    ["fractional token counts", entry("x", { completionTokens: 1.5 })],
  ])("refuses to store %s and says so", async (_name, bad) => {
    const { cache, lines } = await memoryCache();
    cache.set("a", bad);

    expect(await cache.get("a")).toBeUndefined();
    expect(lines).toEqual([expect.objectContaining({ level: "warn", msg: "Refused to cache an entry" })]);
  });

  it("rejects a key that could not be stored in the shared tier", async () => {
    const { cache } = await memoryCache();
    expect(() => cache.set("a.b c", entry("A"))).toThrow(TypeError);
    await expect(cache.get("")).rejects.toThrow(TypeError);
  });

  it.each<[string, Partial<ResponseCacheOptions>]>([
    ["maxEntries", { maxEntries: 0 }],
    ["maxBytes", { maxBytes: 1.5 }],
    ["ttlSeconds", { ttlSeconds: 0 }],
    ["sharedMaxValueBytes", { sharedMaxValueBytes: -1 }],
  ])("refuses an invalid %s, naming it", async (name, opts) => {
    const opened = memoryCache(opts);
    await expect(opened).rejects.toThrow(InvalidCacheOptionsError);
    await expect(opened).rejects.toThrow(name);
  });

  it("flushes and closes at once without a shared tier", async () => {
    const { cache } = await memoryCache();
    cache.set("a", entry("A"));
    await cache.flush();
    await cache.close();
  });
});

describe("toCachedResponse", () => {
  it("keeps what a replay needs from a finished result", () => {
    const result = {
      finishReason: "length" as const,
      promptTokens: 7,
      completionTokens: 16,
      cachedTokens: 4,
    };
    expect(toCachedResponse("text", result)).toEqual({
      text: "text",
      finishReason: "length",
      promptTokens: 7,
      completionTokens: 16,
    });
  });

  it("gives nothing for a cancelled result", () => {
    const result = {
      finishReason: "cancelled" as const,
      promptTokens: 7,
      completionTokens: 2,
      cachedTokens: 0,
    };
    expect(toCachedResponse("par", result)).toBeUndefined();
  });
});
