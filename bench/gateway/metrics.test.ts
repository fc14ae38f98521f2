import { describe, expect, it } from "@jest/globals";
import { cacheCheck, cacheCounts, counterSum } from "./metrics.js";

const text = `# HELP sloughgpt_serving_response_cache_requests_total Response cache lookups.
# TYPE sloughgpt_serving_response_cache_requests_total counter
sloughgpt_serving_response_cache_requests_total{service="serving",model="tiny-llama",result="hit",tier="memory"} 120
sloughgpt_serving_response_cache_requests_total{service="serving",model="tiny-llama",result="hit",tier="shared"} 3
sloughgpt_serving_response_cache_requests_total{service="serving",model="tiny-llama",result="miss",tier="none"} 2
sloughgpt_serving_response_cache_requests_total_other{result="hit"} 1000
grpc_server_handled_total 7
`;

describe("counterSum", () => {
  it("sums the samples whose labels include the given ones, and only of that exact metric", () => {
    expect(counterSum(text, "sloughgpt_serving_response_cache_requests_total", { result: "hit" })).toBe(123);
    expect(counterSum(text, "sloughgpt_serving_response_cache_requests_total")).toBe(125);
    expect(counterSum(text, "grpc_server_handled_total")).toBe(7);
  });

  it("is 0 for a metric or label value not there", () => {
    expect(counterSum(text, "nope")).toBe(0);
    expect(counterSum(text, "sloughgpt_serving_response_cache_requests_total", { result: "skip" })).toBe(0);
  });

  it("reads label values holding escaped quotes and commas", () => {
    expect(counterSum('m{a="x\\",y",b="1"} 4\n', "m", { b: "1" })).toBe(4);
  });
});

describe("cacheCounts", () => {
  it("counts hits and misses over every tier", () => {
    expect(cacheCounts(text)).toEqual({ hits: 123, misses: 2 });
  });
});

describe("cacheCheck", () => {
  const before = { hits: 10, misses: 2 };

  it("passes when every timed request was one hit and nothing missed", () => {
    expect(cacheCheck(100, before, { hits: 110, misses: 2 })).toEqual({
      ok: true,
      line: "cache check: 100 timed requests, serving answered 100 from its response cache and missed 0",
    });
  });

  it.each([
    ["a miss", { hits: 109, misses: 3 }],
    ["a request answered twice", { hits: 111, misses: 2 }],
    ["a request not answered from the cache", { hits: 109, misses: 2 }],
  ])("fails on %s", (_, after) => {
    const r = cacheCheck(100, before, after);
    expect(r.ok).toBe(false);
    expect(r.line).toMatch(/^cache check FAILED: 100 timed requests/);
  });
});
