import { DiscardPolicy, jetstream, type StreamInfo } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { Bus } from "@sloughgpt/bus";
import type { Logger } from "@sloughgpt/runtime";
import { type CachedResponse, decodeEntry } from "./entry.js";

/** The shared tier's KV bucket: `<NAMESPACE>_RESPONSES` (its stream is `KV_<NAMESPACE>_RESPONSES`). */
export const sharedBucketName = (bus: Bus): string => bus.stream("RESPONSES");

/** Background writes wait this long for the server's ack; they delay no response. */
const WRITE_TIMEOUT_MS = 5_000;
const MAX_DUPLICATE_WINDOW_MS = 120_000;

export interface SharedTierOptions {
  bus: Bus;
  ttlMs: number;
  /** Bucket size; the oldest entries go first once it is full. */
  maxBytes: number;
  /** Larger values are not shared. */
  maxValueBytes: number;
  /** A read slower than this is a miss. */
  readTimeoutMs: number;
  /** After a failure the tier is left alone this long, so an outage costs one timeout, not one per request. */
  retryMs: number;
  maxPendingWrites: number;
  logger: Logger;
  now: () => number;
}

/**
 * The response cache's JetStream KV tier, shared by every replica in a namespace. No method
 * throws: an unreachable server or a bad value is a miss, logged, and the bucket is bound
 * (created or updated) again on the next use after `retryMs`.
 */
export class SharedTier {
  private kv: Promise<KV> | undefined;
  private pausedUntil = 0;
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: SharedTierOptions) {}

  /** Binds the bucket now, so a problem shows at start-up; a failure is logged like any other. */
  async bind(): Promise<void> {
    await this.attempt("bind", () => this.bucket());
  }

  /** The stored entry and when the server stored it (epoch ms). */
  async get(key: string): Promise<{ entry: CachedResponse; storedAt: number } | undefined> {
    const found = await this.attempt("read", async () => (await this.bucket()).get(key));
    if (found?.operation !== "PUT") return undefined;
    const decoded = decodeEntry(found.value);
    if ("problem" in decoded) {
      this.opts.logger.warn(
        { cacheKey: key, revision: found.revision, problem: decoded.problem },
        "Ignored a malformed shared cache entry",
      );
      return undefined;
    }
    return { entry: decoded.entry, storedAt: found.created.getTime() };
  }

  /** Starts the write and returns at once; flush() waits for it. */
  put(key: string, value: Uint8Array): void {
    if (this.closed || value.byteLength > this.opts.maxValueBytes) return;
    if (this.pending.size >= this.opts.maxPendingWrites) {
      this.opts.logger.debug({ cacheKey: key, pending: this.pending.size }, "Skipped a shared cache write");
      return;
    }
    const write: Promise<void> = this.attempt("write", async () => {
      await (await this.bucket()).put(key, value, { timeout: WRITE_TIMEOUT_MS });
    }).then(() => {
      this.pending.delete(write);
    });
    this.pending.add(write);
  }

  /** Waits for the writes started before the call. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  /** Starts no more writes and waits for those under way. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private bucket(): Promise<KV> {
    this.kv ??= bindBucket(this.opts);
    return this.kv;
  }

  private async attempt<T>(op: "bind" | "read" | "write", run: () => Promise<T>): Promise<T | undefined> {
    if (this.opts.now() < this.pausedUntil) return undefined;
    try {
      return await run();
    } catch (err) {
      // Bind again next time: the bucket may have been deleted or never created.
      this.kv = undefined;
      this.pausedUntil = this.opts.now() + this.opts.retryMs;
      this.opts.logger.warn(
        { err, op, retryMs: this.opts.retryMs },
        "Failed to use the shared response cache; serving from memory only until the retry",
      );
      return undefined;
    }
  }
}

/**
 * Creates the bucket or brings an existing one to these limits (safe from every replica), then
 * opens it for reads that give up after `readTimeoutMs`.
 */
async function bindBucket(opts: SharedTierOptions): Promise<KV> {
  const name = sharedBucketName(opts.bus);
  const created = await new Kvm(opts.bus.js).create(name, {
    history: 1,
    ttl: opts.ttlMs,
    max_bytes: opts.maxBytes,
    maxValueSize: opts.maxValueBytes,
  });
  const info = await applyLimits(opts, (await created.status()).streamInfo);
  return new Kvm(jetstream(opts.bus.nc, { timeout: opts.readTimeoutMs })).open(name, {
    allow_direct: info.config.allow_direct,
  });
}

/** Kvm.create leaves an existing bucket's limits as they were; a changed setting must still take effect. */
async function applyLimits(opts: SharedTierOptions, info: StreamInfo): Promise<StreamInfo> {
  const maxAge = opts.ttlMs * 1e6;
  const want = {
    max_age: maxAge,
    // The server refuses a duplicate window longer than max_age.
    duplicate_window: Math.min(maxAge, MAX_DUPLICATE_WINDOW_MS * 1e6),
    max_bytes: opts.maxBytes,
    max_msg_size: opts.maxValueBytes,
    // Kvm creates buckets with discard "new": once full, every put fails with "maximum bytes
    // exceeded" until entries expire. A cache wants the oldest entries to make room instead.
    discard: DiscardPolicy.Old,
  };
  const current = info.config as unknown as Record<string, unknown>;
  if (Object.entries(want).every(([field, value]) => current[field] === value)) return info;
  const updated = await opts.bus.jsm.streams.update(info.config.name, want);
  opts.logger.info({ stream: info.config.name, limits: want }, "Updated the shared response cache's limits");
  return updated;
}
