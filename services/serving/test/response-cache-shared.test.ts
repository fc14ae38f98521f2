import { jest } from "@jest/globals";
import { type KV, Kvm } from "@nats-io/kv";
import { type Bus, connectBus } from "@sloughgpt/bus";
import { createLogger, type Logger } from "@sloughgpt/runtime";
import { DEFAULT_NATS_URL, testNamespace } from "@sloughgpt/testing";
import type { CachedResponse } from "../src/cache/entry.js";
import { cacheKey } from "../src/cache/key.js";
import { ResponseCache, type ResponseCacheOptions } from "../src/cache/response-cache.js";
import { sharedBucketName } from "../src/cache/shared.js";

// Against the NATS server on 127.0.0.1:4222; every test has a namespace, so a bucket, of its own.
jest.setTimeout(20_000);

const quiet = createLogger({ service: "test", level: "silent" });

/** A logger that keeps what was logged at warn and above. */
function recordingLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at =
    (level: string) =>
    (obj: Record<string, unknown>, msg = "") =>
      void lines.push({ level, obj, msg });
  const silent = () => undefined;
  const logger = { warn: at("warn"), error: at("error"), info: silent, debug: silent, trace: silent };
  return { logger: { ...logger, child: () => logger } as unknown as Logger, lines };
}

const entry = (text: string): CachedResponse => ({
  text,
  finishReason: "stop",
  promptTokens: 5,
  completionTokens: 3,
});

const keyFor = (prompt: string) =>
  cacheKey({ model: "tiny-llama", input: { kind: "prompt", prompt }, stop: [] }) as string;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Replicas of one namespace, each on its own connection; the bucket is deleted after the test. */
async function namespaceHarness() {
  const namespace = testNamespace();
  const buses: Bus[] = [];
  const caches: ResponseCache[] = [];
  const connectReplica = async () => {
    const bus = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "cache-test", logger: quiet });
    buses.push(bus);
    return bus;
  };
  const admin = await connectReplica();
  cleanups.push(async () => {
    for (const cache of caches) await cache.close();
    await admin.jsm.streams.delete(`KV_${sharedBucketName(admin)}`).catch(() => undefined);
    for (const bus of buses) await bus.close();
  });

  const replica = async (opts: Partial<ResponseCacheOptions> = {}) => {
    const cache = await ResponseCache.open({
      bus: await connectReplica(),
      maxEntries: 100,
      maxBytes: 1_000_000,
      ttlSeconds: 60,
      sharedMaxBytes: 1_000_000,
      logger: quiet,
      ...opts,
    });
    caches.push(cache);
    return cache;
  };
  const rawKv = (): Promise<KV> => new Kvm(admin.js).open(sharedBucketName(admin));
  const streamInfo = () => admin.jsm.streams.info(`KV_${sharedBucketName(admin)}`);
  return { namespace, admin, connectReplica, replica, rawKv, streamInfo };
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("ResponseCache shared tier", () => {
  it("creates <NAMESPACE>_RESPONSES with the cache's limits, from several replicas at once", async () => {
    const h = await namespaceHarness();
    await Promise.all([
      h.replica({ ttlSeconds: 30, sharedMaxBytes: 50_000, sharedMaxValueBytes: 4_096 }),
      h.replica({ ttlSeconds: 30, sharedMaxBytes: 50_000, sharedMaxValueBytes: 4_096 }),
    ]);

    const { config } = await h.streamInfo();
    expect(config.name).toBe(`KV_${h.namespace.toUpperCase()}_RESPONSES`);
    expect(config).toMatchObject({
      max_age: 30e9,
      max_bytes: 50_000,
      max_msg_size: 4_096,
      max_msgs_per_subject: 1,
      discard: "old",
    });
  });

  it("brings an existing bucket to changed limits and keeps its entries", async () => {
    const h = await namespaceHarness();
    const before = await h.replica({ ttlSeconds: 300, sharedMaxBytes: 50_000 });
    before.set(keyFor("kept"), entry("kept"));
    await before.flush();

    const after = await h.replica({ ttlSeconds: 60, sharedMaxBytes: 80_000 });

    expect((await h.streamInfo()).config).toMatchObject({ max_age: 60e9, max_bytes: 80_000 });
    expect(await after.get(keyFor("kept"))).toEqual({ entry: entry("kept"), tier: "shared" });
  });

  it("shares an entry between replicas on separate connections", async () => {
    const h = await namespaceHarness();
    const [a, b] = [await h.replica(), await h.replica()];
    const key = keyFor("Hello");

    a.set(key, entry("Hi there"));
    await a.flush();

    expect(await a.get(key)).toEqual({ entry: entry("Hi there"), tier: "memory" });
    expect(await b.get(key)).toEqual({ entry: entry("Hi there"), tier: "shared" });
    // A shared hit is promoted, so the next read does not go to the server.
    expect(await b.get(key)).toEqual({ entry: entry("Hi there"), tier: "memory" });
  });

  it("lets the server expire an entry after ttlSeconds", async () => {
    const h = await namespaceHarness();
    const a = await h.replica({ ttlSeconds: 1 });
    const key = keyFor("short-lived");
    a.set(key, entry("soon gone"));
    await a.flush();
    const kv = await h.rawKv();
    expect(await kv.get(key)).not.toBeNull();

    await until(async () => (await kv.get(key)) === null, "the server to expire the entry", 4_000);
    const fresh = await h.replica({ ttlSeconds: 1 });
    expect(await fresh.get(key)).toBeUndefined();
    expect(await a.get(key)).toBeUndefined();
  });

  it("counts the TTL from when an entry was stored, not from when a replica read it", async () => {
    const h = await namespaceHarness();
    const a = await h.replica({ ttlSeconds: 60 });
    const clock = { offsetMs: 0 };
    const b = await h.replica({ ttlSeconds: 60, now: () => Date.now() + clock.offsetMs });
    const key = keyFor("aging");
    a.set(key, entry("aging"));
    await a.flush();

    clock.offsetMs = 30_000;
    expect((await b.get(key))?.tier).toBe("shared");
    clock.offsetMs = 60_500;
    // Still on the server (its clock has not moved), yet too old to serve from either tier.
    expect(await (await h.rawKv()).get(key)).not.toBeNull();
    expect(await b.get(key)).toBeUndefined();
  });

  it("keeps an entry over the value limit in memory only", async () => {
    const h = await namespaceHarness();
    const [a, b] = [
      await h.replica({ sharedMaxValueBytes: 300 }),
      await h.replica({ sharedMaxValueBytes: 300 }),
    ];
    const key = keyFor("long answer");
    a.set(key, entry("x".repeat(400)));
    await a.flush();

    expect((await a.get(key))?.tier).toBe("memory");
    expect(await b.get(key)).toBeUndefined();
    expect(await (await h.rawKv()).get(key)).toBeNull();
  });

  it("keeps accepting entries once the bucket is full, dropping the oldest", async () => {
    const h = await namespaceHarness();
    const opts = { sharedMaxBytes: 3_000, sharedMaxValueBytes: 1_000 };
    const [a, b] = [await h.replica(opts), await h.replica(opts)];
    for (let i = 0; i < 20; i++) a.set(keyFor(`n${i}`), entry(`${i}:${"y".repeat(300)}`));
    await a.flush();

    expect((await b.get(keyFor("n19")))?.tier).toBe("shared");
    expect(await b.get(keyFor("n0"))).toBeUndefined();
  });

  it("treats a malformed stored value as a miss, logs it, and goes on sharing", async () => {
    const h = await namespaceHarness();
    const log = recordingLogger();
    const a = await h.replica();
    const b = await h.replica({ logger: log.logger });
    const kv = await h.rawKv();
    const bad = {
      notJson: "not json",
      wrongShape: JSON.stringify({ text: 1, finishReason: "stop", promptTokens: 1, completionTokens: 1 }),
      cancelled: JSON.stringify({ ...entry("x"), finishReason: "cancelled" }),
      notUtf8: new Uint8Array([0x22, 0xff, 0xfe, 0x22]),
    };
    for (const [name, value] of Object.entries(bad)) await kv.put(keyFor(name), value);

    for (const name of Object.keys(bad)) expect(await b.get(keyFor(name))).toBeUndefined();
    a.set(keyFor("good"), entry("good"));
    await a.flush();

    expect((await b.get(keyFor("good")))?.tier).toBe("shared");
    expect(log.lines.map((l) => [l.msg, l.obj.cacheKey])).toEqual(
      Object.keys(bad).map((name) => ["Ignored a malformed shared cache entry", keyFor(name)]),
    );
  });

  it("serves from memory through a NATS outage without throwing, and logs it once per retry window", async () => {
    const h = await namespaceHarness();
    const log = recordingLogger();
    const bus = await h.connectReplica();
    const cache = await ResponseCache.open({
      bus,
      maxEntries: 10,
      maxBytes: 100_000,
      ttlSeconds: 60,
      sharedMaxBytes: 100_000,
      logger: log.logger,
    });
    await bus.close();

    cache.set(keyFor("during outage"), entry("local"));
    await cache.flush();
    expect(await cache.get(keyFor("elsewhere"))).toBeUndefined();
    expect(await cache.get(keyFor("during outage"))).toEqual({ entry: entry("local"), tier: "memory" });
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "Failed to use the shared response cache; serving from memory only until the retry",
        obj: expect.objectContaining({ op: "write" }),
      }),
    ]);
    await cache.close();
  });

  it("creates the bucket again once it was deleted under running replicas", async () => {
    const h = await namespaceHarness();
    const clock = { offsetMs: 0 };
    const log = recordingLogger();
    const a = await h.replica({ now: () => Date.now() + clock.offsetMs, logger: log.logger });
    const b = await h.replica();
    await h.admin.jsm.streams.delete(`KV_${sharedBucketName(h.admin)}`);

    expect(await a.get(keyFor("gone"))).toBeUndefined();
    expect(log.lines).toHaveLength(1);
    clock.offsetMs = 10_000; // past the retry window
    a.set(keyFor("back"), entry("back"));
    await a.flush();

    expect((await b.get(keyFor("back")))?.tier).toBe("shared");
  });
});
