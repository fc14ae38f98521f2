import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstream,
  StorageType,
  type StreamInfo,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { Bus } from "@sloughgpt/bus";
import type { Logger } from "@sloughgpt/runtime";
import type { CounterStore, Stored } from "./store.js";
import { NO_USAGE, type Usage } from "./types.js";
import { WINDOW_MS } from "./window.js";

/** The counters' KV bucket: `<NAMESPACE>_RATELIMITS` (its stream is `KV_<NAMESPACE>_RATELIMITS`). */
export const rateLimitBucketName = (bus: Bus): string => bus.stream("RATELIMITS");

/**
 * A counter is written only during its window, so the server may drop it one window after its last
 * write; that leaves a whole window of margin for clock differences. Keys therefore never pile up.
 */
export const COUNTER_TTL_MS = 2 * WINDOW_MS;

export interface BucketOptions {
  bus: Bus;
  /** Every read and write gives up after this long. */
  timeoutMs: number;
  /** Copies the server keeps when this call creates the bucket (1, 3 or 5). */
  replicas: number;
  logger: Logger;
}

/**
 * Creates the bucket or brings an existing one to the counters' limits (safe from every replica at
 * once), then opens it. Everything, binding included, gives up after `timeoutMs`: the limiter binds
 * again after any failure (a memory bucket does not survive a restart of a lone server), and that
 * must not hold a request up longer than any other failure does.
 */
export async function bindCounterBucket(opts: BucketOptions): Promise<KV> {
  const js = jetstream(opts.bus.nc, { timeout: opts.timeoutMs });
  const name = rateLimitBucketName(opts.bus);
  const created = await new Kvm(js).create(name, {
    history: 1,
    ttl: COUNTER_TTL_MS,
    // Counters matter for one minute: a NATS restart that forgets them costs at most one window.
    storage: StorageType.Memory,
    replicas: opts.replicas,
  });
  await applyLimits(await js.jetstreamManager(), (await created.status()).streamInfo, opts.logger);
  // Reads go to the stream leader, not a possibly lagging replica (direct get), so a refusal rests
  // on the latest value; the conditional write is checked by the leader either way.
  return new Kvm(js).open(name, { allow_direct: false });
}

/** Kvm.create leaves an existing bucket's limits as they were; the counters need theirs. */
async function applyLimits(jsm: JetStreamManager, info: StreamInfo, logger: Logger): Promise<void> {
  const maxAge = COUNTER_TTL_MS * 1e6;
  const want = {
    max_age: maxAge,
    max_msgs_per_subject: 1,
    // The server refuses a duplicate window longer than max_age.
    duplicate_window: Math.min(info.config.duplicate_window ?? maxAge, maxAge),
  };
  const current = info.config as unknown as Record<string, unknown>;
  if (Object.entries(want).every(([field, value]) => current[field] === value)) return;
  await jsm.streams.update(info.config.name, want);
  logger.info({ stream: info.config.name, limits: want }, "Updated the rate-limit bucket's limits");
}

/** Counters in a JetStream KV bucket; the conditional write is the server's last-subject-sequence check. */
export class KvCounterStore implements CounterStore {
  constructor(
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {}

  async read(key: string): Promise<Stored> {
    const entry = await this.kv.get(key);
    if (!entry) return { usage: NO_USAGE, revision: 0 };
    if (entry.operation !== "PUT") return { usage: NO_USAGE, revision: entry.revision };
    const usage = decodeUsage(entry.value);
    if (!usage) {
      // Counted from zero; the next write replaces it.
      this.logger.warn({ counter: key, revision: entry.revision }, "Ignored a malformed rate-limit counter");
    }
    return { usage: usage ?? NO_USAGE, revision: entry.revision };
  }

  async write(key: string, usage: Usage, revision: number): Promise<number | undefined> {
    try {
      return await this.kv.put(key, encodeUsage(usage), { previousSeq: revision });
    } catch (err) {
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    }
  }
}

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export function encodeUsage(u: Usage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ r: u.requests, t: u.tokens }));
}

export function decodeUsage(data: Uint8Array): Usage | undefined {
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data)) as {
      r?: unknown;
      t?: unknown;
    };
    return isCount(v.r) && isCount(v.t) ? { requests: v.r, tokens: v.t } : undefined;
  } catch {
    return undefined;
  }
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
