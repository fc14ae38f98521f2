import { describe, expect, it } from "@jest/globals";
import { requestsPerClient, schedule } from "./schedule.js";

describe("schedule", () => {
  it("runs every path at every level in every round, rotating the path order per round", () => {
    const steps = schedule(2, [1, 8]).map((s) => `${s.round}:${s.concurrency}:${s.path}`);
    expect(steps).toEqual([
      "0:1:raw",
      "0:1:grpc",
      "0:1:gateway",
      "0:8:raw",
      "0:8:grpc",
      "0:8:gateway",
      "1:1:grpc",
      "1:1:gateway",
      "1:1:raw",
      "1:8:grpc",
      "1:8:gateway",
      "1:8:raw",
    ]);
  });
});

describe("requestsPerClient", () => {
  it.each([
    [32, 1, 32],
    [32, 8, 4],
    [32, 16, 2],
    [10, 4, 3],
    [4, 16, 1],
  ])("%d requests over %d clients: %d each", (requests, concurrency, expected) => {
    expect(requestsPerClient(requests, concurrency)).toBe(expected);
  });
});
