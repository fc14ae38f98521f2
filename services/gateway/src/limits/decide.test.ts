import fc from "fast-check";
import { applyBatch, exceeded, type Op } from "./decide.js";

const reserve = (tokens: number, limits: { rpm?: number; tpm?: number }): Op => ({
  type: "reserve",
  cost: { requests: 1, tokens },
  limits,
});

describe("deciding a batch of ops on one counter", () => {
  it.each([
    [{ requests: 4, tokens: 0 }, 1, { rpm: 5 }, undefined],
    [{ requests: 5, tokens: 0 }, 1, { rpm: 5 }, "requests"],
    [{ requests: 0, tokens: 0 }, 1, { rpm: 0 }, "requests"],
    [{ requests: 0, tokens: 60 }, 40, { tpm: 100 }, undefined],
    [{ requests: 0, tokens: 61 }, 40, { tpm: 100 }, "tokens"],
    [{ requests: 0, tokens: 100 }, 0, { tpm: 100 }, "tokens"],
    [{ requests: 0, tokens: 99 }, 0, { tpm: 100 }, undefined],
    [{ requests: 9, tokens: 99 }, 5, { rpm: 9, tpm: 100 }, "requests"],
    [{ requests: 0, tokens: 0 }, 10_000, {}, undefined],
  ])("with %o used, a request of %d tokens under %o breaks %s", (usage, tokens, limits, limit) => {
    expect(exceeded(usage, { requests: 1, tokens }, limits)).toBe(limit);
  });

  it("admits in order until a limit is reached, and reports the counter each verdict saw", () => {
    const { end, verdicts } = applyBatch({ requests: 1, tokens: 10 }, [
      reserve(30, { rpm: 3, tpm: 100 }),
      reserve(70, { rpm: 3, tpm: 100 }),
      reserve(20, { rpm: 3, tpm: 100 }),
    ]);
    expect(verdicts).toEqual([
      { ok: true, usage: { requests: 2, tokens: 40 } },
      { ok: false, usage: { requests: 2, tokens: 40 }, limit: "tokens" },
      { ok: true, usage: { requests: 3, tokens: 60 } },
    ]);
    expect(end).toEqual({ requests: 3, tokens: 60 });
  });

  it("applies adjustments unconditionally but never below zero, and checks change nothing", () => {
    const { end, verdicts } = applyBatch({ requests: 2, tokens: 50 }, [
      { type: "adjust", delta: { requests: 0, tokens: 500 } },
      { type: "check", cost: { requests: 1, tokens: 0 }, limits: { tpm: 100 } },
      { type: "adjust", delta: { requests: -5, tokens: -600 } },
    ]);
    expect(verdicts[1]).toEqual({ ok: false, usage: { requests: 2, tokens: 550 }, limit: "tokens" });
    expect(end).toEqual({ requests: 0, tokens: 0 });
  });

  it("admits exactly as many requests as the limit allows, whatever the batch", () => {
    fc.assert(
      fc.property(fc.nat(20), fc.nat(30), fc.nat(40), (used, rpm, n) => {
        const ops = Array.from({ length: n }, () => reserve(0, { rpm }));
        const { end, verdicts } = applyBatch({ requests: used, tokens: 0 }, ops);
        const admitted = verdicts.filter((v) => v.ok).length;
        expect(admitted).toBe(Math.max(0, Math.min(n, rpm - used)));
        expect(end.requests).toBe(used + admitted);
      }),
    );
  });
});
