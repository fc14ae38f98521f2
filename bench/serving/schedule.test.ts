import { describe, expect, it } from "@jest/globals";
import { interleave, requestsPerClient, rotate, schedule } from "./schedule.js";

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

describe("interleave", () => {
  it("runs every item once per round, rotating the order so none always goes first", () => {
    const steps = interleave(["f16", "q8_0", "q4_0"], 4).map((s) => `${s.round}:${s.item}`);
    expect(steps).toEqual([
      "0:f16",
      "0:q8_0",
      "0:q4_0",
      "1:q8_0",
      "1:q4_0",
      "1:f16",
      "2:q4_0",
      "2:f16",
      "2:q8_0",
      "3:f16",
      "3:q8_0",
      "3:q4_0",
    ]);
  });

  it("leaves its input alone", () => {
    const items = ["a", "b"];
    expect(rotate(items, 1)).toEqual(["b", "a"]);
    expect(items).toEqual(["a", "b"]);
  });
});
