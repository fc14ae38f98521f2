import type { SpendReader } from "./gate.js";
import { cachedSpend } from "./spend-cache.js";

const PERIOD = { periodStart: "2026-12-01T00:00:00.000Z", periodEnd: "2027-01-01T00:00:00.000Z" };

function countingReader() {
  const reads: string[] = [];
  let fail = false;
  const read: SpendReader = async (who, period) => {
    reads.push(`${period}:${who.keyId ?? ""}:${who.team ?? ""}`);
    if (fail) throw new Error("ledger down");
    return { key: { spentUsd: String(reads.length), ...PERIOD } };
  };
  return { read, reads, failNext: (f: boolean) => (fail = f) };
}

describe("cachedSpend", () => {
  it("shares one read among callers within the TTL and reads again after it", async () => {
    const clock = { now: 0 };
    const r = countingReader();
    const spend = cachedSpend(r.read, 250, () => clock.now);
    const [a, b] = await Promise.all([spend({ keyId: "k" }, "daily"), spend({ keyId: "k" }, "daily")]);
    expect(a).toEqual(b);
    clock.now = 249;
    await spend({ keyId: "k" }, "daily");
    expect(r.reads).toHaveLength(1);
    clock.now = 250;
    expect((await spend({ keyId: "k" }, "daily")).key?.spentUsd).toBe("2");
  });

  it("keeps callers, teams and periods apart", async () => {
    const r = countingReader();
    const spend = cachedSpend(r.read, 1000, () => 0);
    await spend({ keyId: "k" }, "daily");
    await spend({ keyId: "k" }, "monthly");
    await spend({ keyId: "k", team: "t" }, "daily");
    await spend({ team: "k" }, "daily");
    expect(r.reads).toEqual(["daily:k:", "monthly:k:", "daily:k:t", "daily::k"]);
  });

  it("does not remember a failed read", async () => {
    const r = countingReader();
    const spend = cachedSpend(r.read, 1000, () => 0);
    r.failNext(true);
    await expect(spend({ keyId: "k" }, "daily")).rejects.toThrow("ledger down");
    r.failNext(false);
    await expect(spend({ keyId: "k" }, "daily")).resolves.toBeDefined();
    expect(r.reads).toHaveLength(2);
  });
});
