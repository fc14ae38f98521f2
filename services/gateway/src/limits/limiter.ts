import type { KV } from "@nats-io/kv";
import type { Bus } from "@sloughgpt/bus";
import type { Logger } from "@sloughgpt/runtime";
import { z } from "zod";
import { CounterContentionError, Counters, DEFAULT_LEASE } from "./counters.js";
import { RateLimiterUnavailableError } from "./errors.js";
import { rateLimitHeaders } from "./headers.js";
import { bindCounterBucket, COUNTER_TTL_MS, KvCounterStore } from "./kv-store.js";
import { MemoryStore } from "./memory-store.js";
import { type Claim, counterKey, type Outcome, reserveAll } from "./reserve.js";
import { ServerClock } from "./server-clock.js";
import type { LimitName, Scope, ScopeKind } from "./types.js";
import { retryAfterSeconds, windowAt } from "./window.js";

export interface RateLimiterOptions {
  bus: Bus;
  logger: Logger;
  /**
   * The time windows are numbered from, in epoch ms; every replica must agree on it. Default: this
   * machine's clock moved onto the NATS server's (measured at start and every 10 minutes).
   */
  clock?: (() => number) | undefined;
  /**
   * While the shared counters cannot be reached: true (the default) decides on this replica's own
   * counters, so each replica still enforces every limit on its own traffic; false refuses every
   * limited request with RateLimiterUnavailableError (HTTP 503).
   */
  failOpen?: boolean | undefined;
  /** A read or write of the shared counters slower than this is a failure. Default 500. */
  timeoutMs?: number | undefined;
  /** After a failure the shared counters are left alone this long: an outage costs one timeout, not one per request. Default 5000. */
  retryMs?: number | undefined;
  /** Copies of the bucket the server keeps, when this replica is the one that creates it. Default 1. */
  replicas?: number | undefined;
  /**
   * Most requests a replica may reserve ahead on a busy counter and admit without a round trip
   * (0: every request is a write). Default 64; see docs/adr/0005-rate-limits.md.
   */
  leaseRequests?: number | undefined;
  /** Told about every decision, e.g. to count them (see rateLimitMetrics). Must not throw. */
  onDecision?: ((decision: RateLimitDecision) => void) | undefined;
}

export interface AdmitRequest {
  /** Every scope must admit the request; scopes without rpm or tpm are not counted. */
  scopes: readonly Scope[];
  /** Tokens the request is expected to use (prompt + the completion it may produce); settle corrects it. */
  estimatedTokens: number;
}

export type Admission =
  | {
      allowed: true;
      headers: Record<string, string>;
      /**
       * Call once the request is over, with the tokens it actually used: the window it was admitted in
       * is corrected by actual − estimated (a refund when lower). Never rejects for an unreachable
       * server (that is logged); later calls do nothing.
       */
      settle(actualTokens: number): Promise<void>;
    }
  | {
      allowed: false;
      retryAfterSeconds: number;
      /** The rate-limit headers and `retry-after`. */
      headers: Record<string, string>;
      /** The first scope, in the order given, that refused. */
      scope: Scope;
      limit: LimitName;
    };

/**
 * One per scope counted for an admitted request, one for the scope that refused, one per limited
 * scope for a request refused because the counters were unreachable (fail-closed).
 */
export interface RateLimitDecision {
  outcome: "admitted" | "refused" | "unavailable";
  kind: ScopeKind;
  limit?: LimitName | undefined;
  /** The shared counters, or this replica's own (fail-open while the shared ones are unreachable). */
  counters: "shared" | "local";
}

/** A settle's correction waits at most this long to be stored with the counter's next write. */
const SETTLE_LINGER_MS = 20;

const count = z.number().int().nonnegative();
const admitRequest = z.object({
  scopes: z
    .array(
      z.object({
        kind: z.enum(["key", "team"]),
        id: z.string().min(1),
        rpm: count.optional(),
        tpm: count.optional(),
      }),
    )
    .refine((s) => new Set(s.map((x) => `${x.kind}:${x.id}`)).size === s.length, "scopes must be distinct"),
  estimatedTokens: count,
});

/**
 * Requests-per-minute and tokens-per-minute limits per key and per team, exact across every gateway
 * replica: the counters are shared in a JetStream KV bucket and changed only by compare-and-set.
 * Design and trade-offs: docs/adr/0005-rate-limits.md.
 */
export class RateLimiter {
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly serverClock: ServerClock | undefined;
  private readonly failOpen: boolean;
  private readonly retryMs: number;
  private readonly local = new Counters(new MemoryStore(COUNTER_TTL_MS));
  private shared: Promise<{ kv: KV; counters: Counters }> | undefined;
  private pausedUntil = Number.NEGATIVE_INFINITY;
  private lastFailure: unknown;
  private resync: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();

  private constructor(private readonly opts: RateLimiterOptions) {
    this.logger = opts.logger.child({ component: "rate-limiter" });
    this.serverClock = opts.clock ? undefined : new ServerClock();
    this.clock = opts.clock ?? this.serverClock!.now;
    this.failOpen = opts.failOpen ?? true;
    this.retryMs = opts.retryMs ?? 5_000;
  }

  /** Binds the bucket now, so a problem shows at start-up; a failure is logged and retried on use, like any other. */
  static async open(opts: RateLimiterOptions): Promise<RateLimiter> {
    const limiter = new RateLimiter(opts);
    await limiter.sharedCounters();
    return limiter;
  }

  async admit(req: AdmitRequest): Promise<Admission> {
    const parsed = admitRequest.safeParse(req);
    if (!parsed.success) {
      throw new TypeError(`Invalid rate-limit request: ${z.prettifyError(parsed.error)}`, {
        cause: parsed.error,
      });
    }
    const scopes = req.scopes.filter((s) => s.rpm !== undefined || s.tpm !== undefined);
    if (scopes.length === 0) return { allowed: true, headers: {}, settle: () => Promise.resolve() };

    const shared = await this.sharedCounters();
    const now = this.clock();
    const claim: Claim = { scopes, estimatedTokens: req.estimatedTokens, window: windowAt(now) };
    if (shared) {
      try {
        const outcome = await reserveAll(shared, claim, this.logger);
        this.recovered();
        return this.answer(outcome, claim, shared, now);
      } catch (err) {
        // Replicas fighting over one hot counter is load, not an outage: refuse this request as
        // unavailable (retryable) rather than leave the shared counters for retryMs, which would
        // count the rest of the window on this replica's own, empty ones.
        if (err instanceof CounterContentionError) {
          for (const s of scopes) this.report({ outcome: "unavailable", kind: s.kind, counters: "shared" });
          throw new RateLimiterUnavailableError({ cause: err });
        }
        this.failed(err);
      }
    }
    if (!this.failOpen) {
      for (const s of scopes) this.report({ outcome: "unavailable", kind: s.kind, counters: "shared" });
      throw new RateLimiterUnavailableError({ cause: this.lastFailure });
    }
    return this.answer(await reserveAll(this.local, claim, this.logger), claim, this.local, now);
  }

  /** Waits for the settles under way, then gives back what this replica leased. The bus is the caller's to close. */
  async close(): Promise<void> {
    await Promise.all([...this.pending]);
    const shared = await this.shared?.catch(() => undefined);
    await shared?.counters.close();
  }

  private answer(outcome: Outcome, claim: Claim, counters: Counters, now: number): Admission {
    const source = counters === this.local ? "local" : "shared";
    const headers = rateLimitHeaders(outcome.states, claim.window.endMs - now);
    if (outcome.ok) {
      for (const s of claim.scopes) this.report({ outcome: "admitted", kind: s.kind, counters: source });
      return { allowed: true, headers, settle: this.settler(counters, claim) };
    }
    this.report({ outcome: "refused", kind: outcome.refused.kind, limit: outcome.limit, counters: source });
    const retryAfter = retryAfterSeconds(claim.window, now);
    return {
      allowed: false,
      retryAfterSeconds: retryAfter,
      headers: { ...headers, "retry-after": String(retryAfter) },
      scope: outcome.refused,
      limit: outcome.limit,
    };
  }

  private settler(counters: Counters, claim: Claim): (actualTokens: number) => Promise<void> {
    let settled = false;
    return (actualTokens) => {
      if (!count.safeParse(actualTokens).success) {
        return Promise.reject(
          new TypeError(`actualTokens must be a non-negative integer, got ${actualTokens}`),
        );
      }
      if (settled) return Promise.resolve();
      settled = true;
      return this.track(this.correct(counters, claim, actualTokens - claim.estimatedTokens));
    };
  }

  private async correct(counters: Counters, claim: Claim, tokens: number): Promise<void> {
    const scopes = claim.scopes.filter((s) => s.tpm !== undefined);
    // Once its window has ended a counter decides nothing more: there is nothing left to correct.
    if (tokens === 0 || scopes.length === 0 || this.clock() >= claim.window.endMs) return;
    const { id } = claim.window;
    const results = await Promise.allSettled(
      scopes.map((s) =>
        counters.applyLater(
          counterKey(s, id),
          id,
          { type: "adjust", delta: { requests: 0, tokens } },
          SETTLE_LINGER_MS,
        ),
      ),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      this.logger.warn({ err: failed.reason, tokens, window: id }, "Failed to settle a request's tokens");
    }
  }

  /** The shared counters, or undefined while they are left alone after a failure. */
  private async sharedCounters(): Promise<Counters | undefined> {
    if (performance.now() < this.pausedUntil) return undefined;
    try {
      this.shared ??= this.bind();
      const { kv, counters } = await this.shared;
      if (this.serverClock?.due && !this.resync) this.resync = this.track(this.syncClock(kv));
      return counters;
    } catch (err) {
      this.failed(err);
      return undefined;
    }
  }

  private async bind(): Promise<{ kv: KV; counters: Counters }> {
    const { bus, timeoutMs = 500, replicas = 1 } = this.opts;
    const kv = await bindCounterBucket({ bus, timeoutMs, replicas, logger: this.logger });
    // Windows must be numbered from the server's time before the first one is counted.
    await this.serverClock?.sync(kv, this.logger);
    const maxRequests = this.opts.leaseRequests ?? DEFAULT_LEASE.maxRequests;
    const lease = maxRequests > 0 ? { ...DEFAULT_LEASE, maxRequests } : undefined;
    return { kv, counters: new Counters(new KvCounterStore(kv, this.logger), lease) };
  }

  private async syncClock(kv: KV): Promise<void> {
    try {
      await this.serverClock?.sync(kv, this.logger);
    } catch (err) {
      this.logger.warn({ err }, "Failed to measure the NATS server's clock; keeping the last offset");
    } finally {
      this.resync = undefined;
    }
  }

  private failed(err: unknown): void {
    // Bind again next time: the bucket may have been deleted, or never created. The counters being
    // left try to give their leases back (it fails too if NATS is gone: those stay counted).
    const left = this.shared;
    this.shared = undefined;
    void left?.then(({ counters }) => this.track(counters.close())).catch(() => undefined);
    this.pausedUntil = performance.now() + this.retryMs;
    if (this.lastFailure === undefined) {
      this.logger.warn(
        { err, retryMs: this.retryMs, failOpen: this.failOpen },
        this.failOpen
          ? "Failed to reach the shared rate-limit counters; each replica counts on its own until they are back"
          : "Failed to reach the shared rate-limit counters; refusing limited requests until they are back",
      );
    }
    this.lastFailure = err;
  }

  private recovered(): void {
    if (this.lastFailure === undefined) return;
    this.lastFailure = undefined;
    this.logger.info("Reached the shared rate-limit counters again");
  }

  private report(decision: RateLimitDecision): void {
    try {
      this.opts.onDecision?.(decision);
    } catch (err) {
      this.logger.warn({ err }, "Ignored a failing rate-limit decision callback");
    }
  }

  private track(work: Promise<void>): Promise<void> {
    this.pending.add(work);
    const forget = () => void this.pending.delete(work);
    work.then(forget, forget);
    return work;
  }
}
