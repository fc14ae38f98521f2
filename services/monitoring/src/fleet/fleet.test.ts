import { checkFleet } from "./fleet.js";

describe("checkFleet", () => {
  it("reports each check, turning errors and timeouts into unhealthy entries", async () => {
    const res = await checkFleet(
      [
        { name: "ok", kind: "grpc", target: "a", run: async () => ({ healthy: true, detail: "SERVING" }) },
        {
          name: "down",
          kind: "grpc",
          target: "b",
          run: async () => Promise.reject(new Error("ECONNREFUSED")),
        },
        { name: "slow", kind: "http", target: "c", run: () => new Promise(() => undefined) },
      ],
      50,
    );
    expect(res.map(({ latencyMs: _, ...r }) => r)).toEqual([
      { name: "ok", kind: "grpc", target: "a", healthy: true, detail: "SERVING" },
      { name: "down", kind: "grpc", target: "b", healthy: false, detail: "ECONNREFUSED" },
      { name: "slow", kind: "http", target: "c", healthy: false, detail: "timed out after 50 ms" },
    ]);
  });
});
