import type { UsageEvent } from "@sloughgpt/bus";
import { parsePriceTable } from "./pricing.js";
import { InvalidUsageError, toLedgerRecord } from "./record.js";

const prices = parsePriceTable({ m: { input: 1, output: 2, cachedInput: 0.5 } }, "test");

const event = (over: Partial<UsageEvent> = {}): UsageEvent => ({
  id: "e1",
  model: "m",
  keyId: "k",
  team: "t",
  requestId: "r",
  promptTokens: 1000,
  completionTokens: 500,
  cachedTokens: 200,
  cacheHit: false,
  latencyMs: 12,
  status: "ok",
  finishedAt: "2024-05-31T23:30:00-02:00",
  ...over,
});

describe("toLedgerRecord", () => {
  it("dates a record by its UTC day and stores the prices it applied", () => {
    const r = toLedgerRecord(event(), prices);
    expect(r.day).toBe("2024-06-01");
    expect(r.finishedAt).toBe("2024-06-01T01:30:00.000Z");
    expect(r.price).toEqual({ input: "1.000000", cachedInput: "0.500000", output: "2.000000" });
    // 800 × $1 + 200 × $0.5 + 500 × $2 per 1M tokens = $0.0019
    expect(r.costUsd).toBe("0.001900000000");
  });

  it("stores a model without a price at cost 0, without a price", () => {
    const r = toLedgerRecord(event({ model: "other" }), prices);
    expect([r.costUsd, r.price]).toEqual(["0.000000000000", undefined]);
  });

  it("bills cancelled streams and response-cache hits for the tokens they report", () => {
    expect(toLedgerRecord(event({ status: "cancelled", cachedTokens: 0 }), prices).costUsd).toBe(
      "0.002000000000",
    );
    expect(toLedgerRecord(event({ cacheHit: true, cachedTokens: 0 }), prices).costUsd).toBe("0.002000000000");
  });

  it("clamps cached tokens to the prompt rather than losing the record", () => {
    const r = toLedgerRecord(event({ promptTokens: 10, cachedTokens: 50, completionTokens: 0 }), prices);
    expect([r.cachedTokens, r.costUsd]).toEqual([10, "0.000005000000"]);
  });

  it.each([
    [{ finishedAt: "yesterday" }, "finished_at"],
    [{ finishedAt: "2024-05-31 10:00" }, "finished_at"],
    [{ promptTokens: 2 ** 31 }, "tokens"],
  ] as const)("rejects %j (%s) as never storable", (over, reason) => {
    expect(() => toLedgerRecord(event(over), prices)).toThrow(expect.objectContaining({ reason }));
    expect(() => toLedgerRecord(event(over), prices)).toThrow(InvalidUsageError);
  });
});
