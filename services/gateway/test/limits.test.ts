import { jest } from "@jest/globals";
import { Registry } from "@sloughgpt/runtime";
import {
  type Admission,
  type RateLimiter,
  rateLimitBucketName,
  rateLimitMetrics,
} from "../src/limits/index.js";
import type { Scope } from "../src/limits/types.js";
import { limitsHarness, manualClock, T0, until } from "./limits-harness.js";

// Against the NATS server on 127.0.0.1:4222; every test has a namespace, so a bucket, of its own.
jest.setTimeout(30_000);

let h: ReturnType<typeof limitsHarness>;
beforeEach(() => {
  h = limitsHarness();
});
afterEach(async () => {
  await h.cleanup();
});

const fixedClock = () => T0;

/** Replicas on separate connections sharing one (fixed or manual) clock. */
async function replicas(n: number, clock: () => number = fixedClock) {
  return Promise.all(Array.from({ length: n }, () => h.replica({ clock })));
}

const allowed = (as: Admission[]) => as.filter((a) => a.allowed).length;

describe("RateLimiter across replicas", () => {
  it("admits exactly rpm requests when three replicas race for the same key", async () => {
    const limiters = await replicas(3);
    const scope: Scope = { kind: "key", id: "k-hot", rpm: 50 };

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => limiters[i % 3]!.admit({ scopes: [scope], estimatedTokens: 0 })),
    );

    expect(allowed(results)).toBe(50);
    expect(await h.stored(scope)).toEqual({ requests: 50, tokens: 0 });
    const refused = results.find((a) => !a.allowed);
    expect(refused).toMatchObject({ allowed: false, scope, limit: "requests", retryAfterSeconds: 30 });
    expect(refused?.headers).toMatchObject({
      "x-ratelimit-limit-requests": "50",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": "30s",
      "retry-after": "30",
    });
  });

  it("never admits more than a high rpm while replicas lease ahead, and every lease comes back", async () => {
    const limiters = await replicas(3);
    // 2,000 left: each replica may hold up to 31 requests (1/64 of what is left) while it is busy.
    const scope: Scope = { kind: "key", id: "k-leased", rpm: 2_000 };
    let admitted = 0;
    const drive = (limiter: RateLimiter) =>
      Array.from({ length: 4 }, async () => {
        for (let refusals = 0; refusals < 3; ) {
          if ((await limiter.admit({ scopes: [scope], estimatedTokens: 0 })).allowed) admitted++;
          else refusals++;
        }
      });
    await Promise.all(limiters.flatMap(drive));
    expect(admitted).toBeLessThanOrEqual(2_000);
    // What a replica still held when others were refused goes back once unused, and is admitted then.
    await until(async () => (await h.stored(scope))?.requests === admitted, "leases returned");
    await Promise.all(limiters.flatMap(drive));
    await until(async () => (await h.stored(scope))?.requests === admitted, "leases returned again");
    expect(admitted).toBe(2_000);
  });

  it("admits exactly as many requests as fit in tpm when replicas race", async () => {
    const limiters = await replicas(2);
    const scope: Scope = { kind: "team", id: "t-hot", tpm: 1_000 };

    const results = await Promise.all(
      Array.from({ length: 80 }, (_, i) => limiters[i % 2]!.admit({ scopes: [scope], estimatedTokens: 30 })),
    );

    expect(allowed(results)).toBe(33);
    expect(await h.stored(scope)).toEqual({ requests: 33, tokens: 990 });
    expect(results.find((a) => !a.allowed)).toMatchObject({ limit: "tokens" });
  });

  it("describes the scope with the least left in the headers of an admitted request", async () => {
    const [limiter] = await replicas(1);
    const key: Scope = { kind: "key", id: "k", rpm: 3, tpm: 10_000 };
    const team: Scope = { kind: "team", id: "t", rpm: 100, tpm: 500 };

    const a = await limiter!.admit({ scopes: [key, team], estimatedTokens: 120 });

    expect(a.allowed).toBe(true);
    expect(a.headers).toEqual({
      "x-ratelimit-limit-requests": "3",
      "x-ratelimit-remaining-requests": "2",
      "x-ratelimit-reset-requests": "30s",
      "x-ratelimit-limit-tokens": "500",
      "x-ratelimit-remaining-tokens": "380",
      "x-ratelimit-reset-tokens": "30s",
    });
  });

  it("counts nothing for a scope without limits", async () => {
    const [limiter] = await replicas(1);
    const a = await limiter!.admit({ scopes: [{ kind: "key", id: "free" }], estimatedTokens: 10 });
    expect(a).toMatchObject({ allowed: true, headers: {} });
    expect(await h.stored({ kind: "key", id: "free" })).toBeUndefined();
  });
});

describe("RateLimiter with several scopes", () => {
  it("takes nothing from the key when the team refuses, nor from the team when the key refuses", async () => {
    const [a, b] = await replicas(2);
    const key: Scope = { kind: "key", id: "k1", rpm: 10 };
    const team: Scope = { kind: "team", id: "t1", rpm: 1 };
    const otherKey: Scope = { kind: "key", id: "k2", rpm: 0 };
    const otherTeam: Scope = { kind: "team", id: "t2", rpm: 100 };

    expect((await a!.admit({ scopes: [key, team], estimatedTokens: 0 })).allowed).toBe(true);
    const refusedByTeam = await b!.admit({ scopes: [key, team], estimatedTokens: 0 });
    const refusedByKey = await b!.admit({ scopes: [otherKey, otherTeam], estimatedTokens: 0 });

    expect(refusedByTeam).toMatchObject({ allowed: false, scope: team, limit: "requests" });
    expect(refusedByKey).toMatchObject({ allowed: false, scope: otherKey, limit: "requests" });
    expect(await h.stored(key)).toEqual({ requests: 1, tokens: 0 });
    expect(await h.stored(otherTeam)).toEqual({ requests: 0, tokens: 0 });
    // The key still has its nine requests for a team with room.
    const elsewhere = await a!.admit({ scopes: [key, otherTeam], estimatedTokens: 0 });
    expect(elsewhere.headers["x-ratelimit-remaining-requests"]).toBe("8");
  });

  it("leaves every counter equal to what it admitted when many keys race for one team", async () => {
    const limiters = await replicas(3);
    const team: Scope = { kind: "team", id: "t", rpm: 20 };
    const keys: Scope[] = ["a", "b", "c", "d"].map((id) => ({ kind: "key", id, rpm: 8 }));

    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        limiters[i % 3]!.admit({ scopes: [keys[i % 4]!, team], estimatedTokens: 0 }).then((a) => ({
          key: keys[i % 4]!,
          a,
        })),
      ),
    );

    const admitted = results.filter((r) => r.a.allowed);
    expect(admitted.length).toBeLessThanOrEqual(20);
    // Refusals rolled back every reservation they made: the counters hold exactly what was admitted.
    expect((await h.stored(team))?.requests).toBe(admitted.length);
    for (const key of keys) {
      const n = admitted.filter((r) => r.key === key).length;
      expect(n).toBeLessThanOrEqual(8);
      expect((await h.stored(key))?.requests).toBe(n);
    }
  });

  it("counts decisions by scope kind for Prometheus", async () => {
    const registry = new Registry();
    const limiter = await h.replica({ clock: fixedClock, onDecision: rateLimitMetrics(registry) });
    const key: Scope = { kind: "key", id: "k", rpm: 5 };
    const team: Scope = { kind: "team", id: "t", rpm: 1 };
    await limiter.admit({ scopes: [key, team], estimatedTokens: 0 });
    await limiter.admit({ scopes: [key, team], estimatedTokens: 0 });

    const text = await registry.metrics();
    expect(text).toContain(
      'gateway_rate_limit_decisions_total{kind="key",outcome="admitted",limit="",counters="shared"} 1',
    );
    expect(text).toContain(
      'gateway_rate_limit_decisions_total{kind="team",outcome="refused",limit="requests",counters="shared"} 1',
    );
  });
});

describe("RateLimiter tokens", () => {
  async function admitOk(limiter: RateLimiter, scopes: Scope[], estimatedTokens: number) {
    const a = await limiter.admit({ scopes, estimatedTokens });
    if (!a.allowed) throw new Error(`refused by ${a.scope.kind} on ${a.limit}`);
    return a;
  }

  it("refunds what a request did not use, and charges what it used beyond its estimate", async () => {
    const [a, b] = await replicas(2);
    const team: Scope = { kind: "team", id: "t", tpm: 100 };

    const first = await admitOk(a!, [team], 40);
    await admitOk(a!, [team], 40);
    expect(await b!.admit({ scopes: [team], estimatedTokens: 40 })).toMatchObject({
      allowed: false,
      limit: "tokens",
    });

    await first.settle(10);
    expect(await h.stored(team)).toEqual({ requests: 2, tokens: 50 });
    const third = await admitOk(b!, [team], 40);
    expect(third.headers["x-ratelimit-remaining-tokens"]).toBe("10");

    // The stream ran long: 100 tokens instead of 40. The team is over its tpm until the window ends.
    await third.settle(100);
    await third.settle(100);
    expect(await h.stored(team)).toEqual({ requests: 3, tokens: 150 });
    const refused = await a!.admit({ scopes: [team], estimatedTokens: 0 });
    expect(refused).toMatchObject({ allowed: false, limit: "tokens" });
    expect(refused.headers["x-ratelimit-remaining-tokens"]).toBe("0");
  });

  it("settles only the scopes that limit tokens, in the window the request was admitted in", async () => {
    const clock = manualClock();
    const limiter = await h.replica({ clock: clock.read });
    const key: Scope = { kind: "key", id: "k", rpm: 10 };
    const team: Scope = { kind: "team", id: "t", tpm: 1_000 };

    const a = await admitOk(limiter, [key, team], 100);
    const late = await admitOk(limiter, [key, team], 100);
    await a.settle(300);
    expect(await h.stored(key)).toEqual({ requests: 2, tokens: 0 });
    expect(await h.stored(team)).toEqual({ requests: 2, tokens: 400 });

    clock.now += 60_000;
    await admitOk(limiter, [key, team], 100);
    // Settled after its window ended: that window decides nothing more, and the new one is untouched.
    await late.settle(900);
    expect(await h.stored(team)).toEqual({ requests: 2, tokens: 400 });
    expect(await h.stored(team, clock.now)).toEqual({ requests: 1, tokens: 100 });
  });

  it("rejects a settle that is not a token count", async () => {
    const limiter = await h.replica({ clock: fixedClock });
    const a = await admitOk(limiter, [{ kind: "key", id: "k", tpm: 10 }], 1);
    await expect(a.settle(-1)).rejects.toThrow(TypeError);
    await expect(a.settle(1.5)).rejects.toThrow(TypeError);
  });
});

describe("RateLimiter windows", () => {
  it("starts counting afresh when the window rolls over", async () => {
    const clock = manualClock();
    const [a, b] = await replicas(2, clock.read);
    const key: Scope = { kind: "key", id: "k", rpm: 2 };
    const admit = (l: RateLimiter) => l.admit({ scopes: [key], estimatedTokens: 0 });

    expect(allowed([await admit(a!), await admit(b!)])).toBe(2);
    clock.now += 29_000; // 59 s into the window
    const refused = await admit(a!);
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(refused.headers["x-ratelimit-reset-requests"]).toBe("1s");

    clock.now += 1_000; // the next window
    const fresh = await admit(b!);
    expect(fresh).toMatchObject({ allowed: true });
    expect(fresh.headers).toMatchObject({
      "x-ratelimit-remaining-requests": "1",
      "x-ratelimit-reset-requests": "1m0s",
    });
    expect((await admit(a!)).allowed).toBe(true);
    expect((await admit(a!)).allowed).toBe(false);
  });

  it("numbers windows from the NATS server's clock by default", async () => {
    const limiter = await h.replica();
    const before = Date.now();
    const a = await limiter.admit({ scopes: [{ kind: "key", id: "k", rpm: 5 }], estimatedTokens: 0 });
    // Same machine, so the server's clock is this one's; the reset lies inside the current minute.
    const resetMs = parseResetMs(a.headers["x-ratelimit-reset-requests"]!);
    expect(resetMs).toBeGreaterThan(0);
    expect(resetMs).toBeLessThanOrEqual(60_000);
    // The header is rounded to whole seconds, so look in the window of the request's own start and
    // end (the same one unless a minute turned meanwhile).
    const after = Date.now();
    const seen = [
      await h.stored({ kind: "key", id: "k" }, before),
      await h.stored({ kind: "key", id: "k" }, after),
    ];
    expect(seen).toContainEqual({ requests: 1, tokens: 0 });
  });
});

describe("RateLimiter bucket", () => {
  it("keeps one value per counter, in memory, for two windows", async () => {
    await replicas(2);
    const bus = await h.adminBus();
    const { config } = await bus.jsm.streams.info(`KV_${rateLimitBucketName(bus)}`);
    expect(config).toMatchObject({ max_msgs_per_subject: 1, max_age: 120e9, storage: "memory" });
  });

  it("brings an existing bucket to the counters' limits", async () => {
    const bus = await h.adminBus();
    const name = `KV_${rateLimitBucketName(bus)}`;
    await bus.jsm.streams.add({ name, subjects: [`$KV.${rateLimitBucketName(bus)}.>`], max_age: 3600e9 });
    await replicas(1);
    expect((await bus.jsm.streams.info(name)).config).toMatchObject({
      max_age: 120e9,
      max_msgs_per_subject: 1,
    });
  });
});

function parseResetMs(text: string): number {
  const m = /^(?:(\d+)m)?(?:([\d.]+)s|(\d+)ms)$/.exec(text);
  if (!m) throw new Error(`unexpected reset ${text}`);
  return Number(m[1] ?? 0) * 60_000 + Number(m[2] ?? 0) * 1000 + Number(m[3] ?? 0);
}
