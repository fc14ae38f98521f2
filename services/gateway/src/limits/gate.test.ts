import type { BudgetAlert } from "@sloughgpt/bus";
import { createLogger } from "@sloughgpt/runtime";
import { NO_LIMITS } from "../identity/types.js";
import { BudgetExceededError } from "./budget.js";
import { type Caller, RateLimitExceededError, RequestGate, type SpendReader } from "./gate.js";
import type { Admission, AdmitRequest } from "./limiter.js";

const logger = createLogger({ service: "gate-test", level: "silent" });
const PERIOD = { periodStart: "2026-12-06T00:00:00.000Z", periodEnd: "2026-12-07T00:00:00.000Z" };

const caller = (over: Partial<Caller> = {}): Caller => ({
  keyId: "k1",
  team: "t",
  limits: NO_LIMITS,
  teamLimits: NO_LIMITS,
  ...over,
});

/** A limiter that admits the first `allow` requests and records what it was asked. */
function countingLimiter(allow: number) {
  const asked: AdmitRequest[] = [];
  const settled: number[] = [];
  return {
    asked,
    settled,
    admit: async (req: AdmitRequest): Promise<Admission> => {
      asked.push(req);
      if (asked.length <= allow) {
        return {
          allowed: true,
          headers: { "x-ratelimit-limit-requests": String(allow) },
          settle: async (n) => void settled.push(n),
        };
      }
      const scope = req.scopes[0]!;
      return {
        allowed: false,
        retryAfterSeconds: 7,
        headers: { "retry-after": "7" },
        scope,
        limit: "requests",
      };
    },
  };
}

describe("RequestGate", () => {
  it("asks the limiter only for scopes with a limit, and settles what was used", async () => {
    const limiter = countingLimiter(1);
    const gate = new RequestGate({ limiter, logger });
    expect(await gate.admit(caller(), 10)).toMatchObject({ headers: {} });
    expect(limiter.asked).toEqual([]);

    const limited = caller({ limits: { ...NO_LIMITS, rpm: 1 }, teamLimits: { ...NO_LIMITS, tpm: 100 } });
    const ticket = await gate.admit(limited, 12.2);
    expect(limiter.asked[0]).toEqual({
      scopes: [
        { kind: "key", id: "k1", rpm: 1, tpm: undefined },
        { kind: "team", id: "t", rpm: undefined, tpm: 100 },
      ],
      estimatedTokens: 13,
    });
    ticket.settle(40);
    await new Promise((r) => setImmediate(r));
    expect(limiter.settled).toEqual([40]);
    expect(ticket.headers).toEqual({ "x-ratelimit-limit-requests": "1" });
  });

  it("turns a refusal into a 429 error carrying the limiter's headers", async () => {
    const gate = new RequestGate({ limiter: countingLimiter(0), logger });
    const err = await gate.admit(caller({ limits: { ...NO_LIMITS, rpm: 3 } }), 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitExceededError);
    expect(err).toMatchObject({ reason: "rate_limit_exceeded", headers: { "retry-after": "7" } });
    expect((err as Error).message).toMatch(/3 requests per minute .* this API key/);
  });

  it("refuses a request larger than a minute's tokens with a 400, without counting it", async () => {
    const limiter = countingLimiter(5);
    const gate = new RequestGate({ limiter, logger });
    const who = caller({ teamLimits: { ...NO_LIMITS, tpm: 1000 } });
    await expect(gate.admit(who, 1001)).rejects.toMatchObject({
      reason: "request_too_large",
      param: "max_tokens",
    });
    await expect(gate.admit(who, 1001)).rejects.toThrow(
      /1001 tokens .* 1000 tokens per minute allowed for team 't'/,
    );
    expect(limiter.asked).toEqual([]);
    await expect(gate.admit(who, 1000)).resolves.toBeDefined();
  });

  it("refuses a spent budget before counting the request against a rate limit", async () => {
    const limiter = countingLimiter(5);
    const spend: SpendReader = async () => ({ key: { spentUsd: "2.000000000000", ...PERIOD } });
    const gate = new RequestGate({ limiter, spend, logger });
    const who = caller({ limits: { ...NO_LIMITS, rpm: 5, budgetUsd: 2, budgetPeriod: "daily" } });
    await expect(gate.admit(who, 1)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(limiter.asked).toEqual([]);
  });

  it("reads each period once and asks only for the scopes in it", async () => {
    const reads: unknown[] = [];
    const spend: SpendReader = async (who, period) => {
      reads.push({ who, period });
      return { key: { spentUsd: "0", ...PERIOD }, team: { spentUsd: "0", ...PERIOD } };
    };
    const gate = new RequestGate({ spend, logger });
    await gate.admit(
      caller({
        limits: { ...NO_LIMITS, budgetUsd: 1, budgetPeriod: "daily" },
        teamLimits: { ...NO_LIMITS, budgetUsd: 9 },
      }),
      1,
    );
    expect(reads).toEqual([
      { who: { keyId: "k1" }, period: "daily" },
      { who: { team: "t" }, period: "monthly" },
    ]);
  });

  it("raises each threshold once per period, and again if publishing failed", async () => {
    const alerts: BudgetAlert[] = [];
    let fail = true;
    const alert = async (a: BudgetAlert) => {
      if (fail) throw new Error("bus down");
      alerts.push(a);
    };
    const spend: SpendReader = async () => ({ team: { spentUsd: "8.5", ...PERIOD } });
    const gate = new RequestGate({ spend, alert, logger, now: () => Date.parse("2026-12-06T12:00:00Z") });
    const who = caller({ teamLimits: { ...NO_LIMITS, budgetUsd: 10 } });
    await gate.admit(who, 1);
    await new Promise((r) => setImmediate(r));
    fail = false;
    await gate.admit(who, 1);
    await gate.admit(who, 1);
    await new Promise((r) => setImmediate(r));
    expect(alerts).toEqual([
      {
        scope: "team",
        subject: "t",
        team: "t",
        threshold: 0.8,
        budgetUsd: 10,
        spentUsd: "8.50",
        period: "monthly",
        periodStart: PERIOD.periodStart,
        at: "2026-12-06T12:00:00.000Z",
      },
    ]);
  });

  it("lets requests through while spend cannot be read, trying again 5 s after a failure", async () => {
    const clock = { now: 0 };
    let reads = 0;
    let down = true;
    const spend: SpendReader = async () => {
      reads++;
      if (down) throw new Error("monitoring down");
      return { key: { spentUsd: "1", ...PERIOD } };
    };
    const gate = new RequestGate({ spend, logger, now: () => clock.now });
    const who = caller({ limits: { ...NO_LIMITS, budgetUsd: 0 } });
    await expect(gate.admit(who, 1)).resolves.toBeDefined();
    down = false;
    clock.now = 4_999;
    await expect(gate.admit(who, 1)).resolves.toBeDefined();
    expect(reads).toBe(1);
    clock.now = 5_000;
    await expect(gate.admit(who, 1)).rejects.toBeInstanceOf(BudgetExceededError);
    expect(reads).toBe(2);
  });
});
