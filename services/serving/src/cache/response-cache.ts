import type { Bus } from "@sloughgpt/bus";
import type { Logger } from "@sloughgpt/runtime";
import { z } from "zod";
import { type CachedResponse, cachedResponseSchema, encodeEntry } from "./entry.js";
import { TtlLru } from "./lru.js";
import { SharedTier } from "./shared.js";

// Handlers that already import the key from here keep working; new code imports ./index.js.

export interface ResponseCacheOptions {
  /** Shares entries with the other replicas through the KV bucket `<NAMESPACE>_RESPONSES`; memory only without it. */
  bus?: Bus | undefined;
  /** Memory tier: most entries held. */
  maxEntries: number;
  /** Memory tier: most bytes held, counting each entry's key and stored JSON. */
  maxBytes: number;
  /** How long after it was stored an entry is served, from either tier. */
  ttlSeconds: number;
  /** Shared tier: bucket size; once full, the oldest entries make room. */
  sharedMaxBytes: number;
  /** Shared tier: larger entries stay in memory. Default 256 KiB, and never above the server's max_payload. */
  sharedMaxValueBytes?: number | undefined;
  /** Shared tier: a read slower than this is a miss. Default 250. */
  sharedReadTimeoutMs?: number | undefined;
  logger: Logger;
  /** Epoch ms. */
  now?: (() => number) | undefined;
}

export interface CacheHit {
  entry: CachedResponse;
  tier: "memory" | "shared";
}

export class InvalidCacheOptionsError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts);
    this.name = new.target.name;
  }
}

const limitsSchema = z.object({
  maxEntries: z.number().int().min(1),
  maxBytes: z.number().int().min(1),
  ttlSeconds: z
    .number()
    .min(0.001)
    .max(365 * 24 * 3600),
  sharedMaxBytes: z.number().int().min(1),
  sharedMaxValueBytes: z
    .number()
    .int()
    .min(1)
    .default(256 * 1024),
  sharedReadTimeoutMs: z.number().int().min(1).default(250),
});

/** Keys are cacheKey() output; the pattern is what a KV key may hold without a codec. */
const KEY_PATTERN = /^[\w-]{1,128}$/;
/** After a shared-tier failure, how long to serve from memory before trying the server again. */
const SHARED_RETRY_MS = 5_000;
const MAX_PENDING_WRITES = 256;

/**
 * Finished responses to deterministic requests, by cacheKey(): an LRU in memory in front of
 * an optional JetStream KV bucket shared by every replica. Neither tier makes a request fail:
 * a shared tier that is down or holds a bad value reads as a miss.
 */
export class ResponseCache {
  private constructor(
    private readonly memory: TtlLru<CachedResponse>,
    private readonly shared: SharedTier | undefined,
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {}

  /** With a bus, creates the bucket or updates its limits; a server that cannot do so now is retried later. */
  static async open(opts: ResponseCacheOptions): Promise<ResponseCache> {
    const parsed = limitsSchema.safeParse(opts);
    if (!parsed.success) {
      throw new InvalidCacheOptionsError(`Invalid response cache options: ${z.prettifyError(parsed.error)}`, {
        cause: parsed.error,
      });
    }
    const limits = parsed.data;
    const now = opts.now ?? Date.now;
    const logger = opts.logger.child({ component: "response-cache" });
    const ttlMs = Math.round(limits.ttlSeconds * 1000);
    const memory = new TtlLru<CachedResponse>({
      maxEntries: limits.maxEntries,
      maxBytes: limits.maxBytes,
      now,
    });
    const shared =
      opts.bus &&
      new SharedTier({
        bus: opts.bus,
        ttlMs,
        maxBytes: limits.sharedMaxBytes,
        maxValueBytes: Math.min(
          limits.sharedMaxValueBytes,
          limits.sharedMaxBytes,
          opts.bus.nc.info?.max_payload ?? Number.POSITIVE_INFINITY,
        ),
        readTimeoutMs: limits.sharedReadTimeoutMs,
        retryMs: SHARED_RETRY_MS,
        maxPendingWrites: MAX_PENDING_WRITES,
        logger,
        now,
      });
    await shared?.bind();
    return new ResponseCache(memory, shared, ttlMs, now, logger);
  }

  /** The live entry and the tier it came from; a shared hit is kept in memory from then on. */
  async get(key: string): Promise<CacheHit | undefined> {
    assertKey(key);
    const local = this.memory.get(key);
    if (local) return { entry: local.value, tier: "memory" };
    const stored = await this.shared?.get(key);
    if (!stored) return undefined;
    // The server prunes expired values on a timer, so one may still be readable briefly.
    const expiresAt = stored.storedAt + this.ttlMs;
    if (expiresAt <= this.now()) return undefined;
    const entry = Object.freeze(stored.entry);
    this.memory.set(key, entry, { bytes: sizeOf(key, encodeEntry(entry)), expiresAt });
    return { entry, tier: "shared" };
  }

  /**
   * Stores in memory now and starts the shared write without waiting for it (see flush()).
   * An entry that is not a valid CachedResponse, a cancelled one say, is logged and not stored.
   */
  set(key: string, entry: CachedResponse): void {
    assertKey(key);
    const parsed = cachedResponseSchema.safeParse(entry);
    if (!parsed.success) {
      this.logger.warn(
        { cacheKey: key, problem: z.prettifyError(parsed.error) },
        "Refused to cache an entry",
      );
      return;
    }
    const value = encodeEntry(parsed.data);
    this.memory.set(key, Object.freeze(parsed.data), {
      bytes: sizeOf(key, value),
      expiresAt: this.now() + this.ttlMs,
    });
    this.shared?.put(key, value);
  }

  /** Waits for the shared writes started before the call. */
  async flush(): Promise<void> {
    await this.shared?.flush();
  }

  /** Stops sharing new entries and waits for the writes under way. Does not close the bus. */
  async close(): Promise<void> {
    await this.shared?.close();
  }
}

function sizeOf(key: string, value: Uint8Array): number {
  return key.length + value.byteLength;
}

function assertKey(key: string): void {
  if (!KEY_PATTERN.test(key)) throw new TypeError(`not a response cache key: ${JSON.stringify(key)}`);
}
