import { describe, expect, it } from "@jest/globals";
import { schedule } from "./schedule.js";

describe("schedule", () => {
  it("runs every path at every level in every round, rotating the path order per round", () => {
    const steps = schedule(2, [1, 8]).map((s) => `${s.round}:${s.concurrency}:${s.path}`);
    expect(steps).toEqual([
      "0:1:grpc",
      "0:1:gateway",
      "0:1:nginx",
      "0:1:direct",
      "0:8:grpc",
      "0:8:gateway",
      "0:8:nginx",
      "0:8:direct",
      "1:1:gateway",
      "1:1:nginx",
      "1:1:direct",
      "1:1:grpc",
      "1:8:gateway",
      "1:8:nginx",
      "1:8:direct",
      "1:8:grpc",
    ]);
  });

  it("puts each path first once in four rounds", () => {
    const firsts = schedule(4, [1]).filter((_, i) => i % 4 === 0);
    expect(firsts.map((s) => s.path).sort()).toEqual(["direct", "gateway", "grpc", "nginx"]);
  });
});
