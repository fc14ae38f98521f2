import { mostConstraining, rateLimitHeaders, type ScopeUsage } from "./headers.js";

const key = (rpm?: number, tpm?: number) => ({ kind: "key" as const, id: "k", rpm, tpm });
const team = (rpm?: number, tpm?: number) => ({ kind: "team" as const, id: "t", rpm, tpm });
const used = (requests: number, tokens: number) => ({ requests, tokens });

describe("rate-limit headers", () => {
  it("describes a single scope's limits and what is left of them", () => {
    expect(rateLimitHeaders([{ scope: key(60, 1000), usage: used(1, 150) }], 59_500)).toEqual({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "59.5s",
      "x-ratelimit-limit-tokens": "1000",
      "x-ratelimit-remaining-tokens": "850",
      "x-ratelimit-reset-tokens": "59.5s",
    });
  });

  it("takes requests and tokens each from the scope with the least left", () => {
    const states: ScopeUsage[] = [
      { scope: key(10, undefined), usage: used(9, 500) },
      { scope: team(100, 1000), usage: used(50, 990) },
    ];
    expect(rateLimitHeaders(states, 1_000)).toMatchObject({
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "1",
      "x-ratelimit-limit-tokens": "1000",
      "x-ratelimit-remaining-tokens": "10",
    });
  });

  it("never says less than nothing is left, even after a request used more than it estimated", () => {
    const headers = rateLimitHeaders([{ scope: team(5, 100), usage: used(5, 180) }], 10);
    expect(headers["x-ratelimit-remaining-requests"]).toBe("0");
    expect(headers["x-ratelimit-remaining-tokens"]).toBe("0");
  });

  it("leaves out the kinds of limit no scope sets", () => {
    expect(rateLimitHeaders([{ scope: key(undefined, 100), usage: used(3, 0) }], 10)).not.toHaveProperty(
      "x-ratelimit-limit-requests",
    );
    expect(rateLimitHeaders([], 10)).toEqual({});
  });

  it("picks the first of equally constrained scopes", () => {
    const states = [
      { scope: key(10), usage: used(5, 0) },
      { scope: team(20), usage: used(15, 0) },
    ];
    expect(mostConstraining(states, "requests")?.scope.kind).toBe("key");
    expect(mostConstraining(states, "tokens")).toBeUndefined();
  });
});
