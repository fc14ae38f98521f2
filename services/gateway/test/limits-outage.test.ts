import { status as GrpcStatus } from "@grpc/grpc-js";
import { jest } from "@jest/globals";
import { type RateLimitDecision, RateLimiterUnavailableError } from "../src/limits/index.js";
import type { Scope } from "../src/limits/types.js";
import { limitsHarness, T0, until } from "./limits-harness.js";

// NATS is taken away from a replica by cutting a TCP relay in front of the real server.
jest.setTimeout(30_000);

let h: ReturnType<typeof limitsHarness>;
beforeEach(() => {
  h = limitsHarness();
});
afterEach(async () => {
  await h.cleanup();
});

const clock = () => T0;
const fast = { clock, timeoutMs: 200, retryMs: 100 };

async function relayedReplica(opts: { failOpen?: boolean } = {}) {
  const relay = await h.relay();
  const decisions: RateLimitDecision[] = [];
  const limiter = await h.replica({
    ...fast,
    ...opts,
    bus: await h.connect(relay.url),
    onDecision: (d) => void decisions.push(d),
  });
  return { relay, limiter, decisions };
}

describe("RateLimiter when NATS is unreachable", () => {
  it("fails open by default: the replica enforces each limit on its own traffic, then shares again", async () => {
    const { relay, limiter, decisions } = await relayedReplica();
    const key: Scope = { kind: "key", id: "k", rpm: 2 };
    const admit = (scope = key) => limiter.admit({ scopes: [scope], estimatedTokens: 0 });
    expect((await admit()).allowed).toBe(true);

    await relay.cut();
    const during = [await admit(), await admit(), await admit()];

    expect(during.map((a) => a.allowed)).toEqual([true, true, false]);
    expect(during[2]).toMatchObject({ scope: key, limit: "requests" });
    expect(decisions.slice(1).map((d) => d.counters)).toEqual(["local", "local", "local"]);

    await relay.restore();
    const fresh: Scope = { kind: "key", id: "after", rpm: 1 };
    await until(async () => {
      await admit({ ...fresh, id: `probe-${decisions.length}` });
      return decisions.at(-1)?.counters === "shared";
    }, "the replica to use the shared counters again");
    expect((await admit(fresh)).allowed).toBe(true);
    // Another replica, straight to NATS, sees the same count.
    const other = await h.replica({ clock });
    expect(await other.admit({ scopes: [fresh], estimatedTokens: 0 })).toMatchObject({ allowed: false });
  });

  it("fails closed when configured: limited requests are refused as unavailable, unlimited ones pass", async () => {
    const { relay, limiter, decisions } = await relayedReplica({ failOpen: false });
    const key: Scope = { kind: "key", id: "k", rpm: 100 };
    expect((await limiter.admit({ scopes: [key], estimatedTokens: 0 })).allowed).toBe(true);

    await relay.cut();
    const refused = limiter.admit({ scopes: [key, { kind: "team", id: "t", tpm: 10 }], estimatedTokens: 0 });
    await expect(refused).rejects.toThrow(RateLimiterUnavailableError);
    await expect(refused).rejects.toMatchObject({
      code: GrpcStatus.UNAVAILABLE,
      reason: "rate_limiter_unavailable",
    });
    expect(decisions.slice(-2)).toEqual([
      { outcome: "unavailable", kind: "key", counters: "shared" },
      { outcome: "unavailable", kind: "team", counters: "shared" },
    ]);
    expect(await limiter.admit({ scopes: [{ kind: "key", id: "free" }], estimatedTokens: 0 })).toMatchObject({
      allowed: true,
    });

    await relay.restore();
    await until(
      () =>
        limiter.admit({ scopes: [key], estimatedTokens: 0 }).then(
          (a) => a.allowed,
          () => false,
        ),
      "the replica to admit again",
    );
  });

  it("fails closed at once on a closed connection, and opens without NATS at all", async () => {
    const bus = await h.connect();
    const limiter = await h.replica({ ...fast, bus, failOpen: false });
    await bus.nc.close();
    await expect(
      limiter.admit({ scopes: [{ kind: "key", id: "k", rpm: 1 }], estimatedTokens: 0 }),
    ).rejects.toThrow(RateLimiterUnavailableError);

    // Opened while the server is away: the limiter still opens, and fails open until it is back.
    const relay = await h.relay();
    const relayed = await h.connect(relay.url);
    await relay.cut();
    const late = await h.replica({ ...fast, bus: relayed });
    const scope: Scope = { kind: "key", id: "k", rpm: 1 };
    expect((await late.admit({ scopes: [scope], estimatedTokens: 0 })).allowed).toBe(true);
    expect((await late.admit({ scopes: [scope], estimatedTokens: 0 })).allowed).toBe(false);
  });

  it("settles without failing while NATS is away", async () => {
    const { relay, limiter, decisions } = await relayedReplica();
    const team: Scope = { kind: "team", id: "t", tpm: 100 };
    const a = await limiter.admit({ scopes: [team], estimatedTokens: 80 });
    if (!a.allowed) throw new Error("refused");

    await relay.cut();
    // The correction is lost (and logged): the window keeps the estimate, which errs towards refusing.
    await expect(a.settle(20)).resolves.toBeUndefined();

    await relay.restore();
    await until(async () => {
      await limiter.admit({
        scopes: [{ kind: "key", id: `probe-${decisions.length}`, rpm: 1 }],
        estimatedTokens: 0,
      });
      return decisions.at(-1)?.counters === "shared";
    }, "the replica to use the shared counters again");
  });
});
