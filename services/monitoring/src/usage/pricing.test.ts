import fc from "fast-check";
import {
  costPicos,
  formatMicros,
  formatPicos,
  loadPriceTable,
  PriceConfigError,
  parsePriceMicros,
  parsePriceTable,
} from "./pricing.js";

describe("parsePriceMicros", () => {
  it.each([
    [0.15, 150_000n],
    ["0.15", 150_000n],
    [2.5, 2_500_000n],
    ["10", 10_000_000n],
    [0.000001, 1n],
    [0, 0n],
  ])("reads %j as %s micro-USD", (v, micros) => {
    expect(parsePriceMicros(v)).toBe(micros);
  });

  it.each([-1, "-0.1", 1e-7, "0.0000001", "1e3", Number.NaN, Number.POSITIVE_INFINITY, "", "abc", "1,5"])(
    "refuses %j",
    (v) => {
      expect(parsePriceMicros(v)).toBeUndefined();
    },
  );

  it("round-trips every 6-decimal price exactly", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), (micros) => {
        return parsePriceMicros(formatMicros(micros)) === micros;
      }),
    );
  });
});

describe("costPicos", () => {
  const price = { input: 150_000n, cachedInput: 75_000n, output: 600_000n }; // $0.15 / $0.075 / $0.60

  it("bills cached prompt tokens at the cached price instead of the input price", () => {
    // 60 uncached × 0.15 + 40 cached × 0.075 + 10 × 0.60 per 1M tokens = 18 micro-USD.
    const cost = costPicos({ promptTokens: 100, cachedTokens: 40, completionTokens: 10 }, price);
    expect(formatPicos(cost)).toBe("0.000018000000");
  });

  it("never bills more cached tokens than the prompt had", () => {
    const clamped = costPicos({ promptTokens: 10, cachedTokens: 50, completionTokens: 0 }, price);
    expect(clamped).toBe(costPicos({ promptTokens: 10, cachedTokens: 10, completionTokens: 0 }, price));
  });

  it("is exact where floating point is not: a million tiny requests sum to the exact cent", () => {
    const one = costPicos({ promptTokens: 7, cachedTokens: 0, completionTokens: 3 }, price); // 2.85 µ$
    expect(formatPicos(one * 1_000_000n)).toBe("2.850000000000");
  });

  it("is additive over requests", () => {
    const tokens = fc.record({
      promptTokens: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      cachedTokens: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      completionTokens: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(tokens, (t) => {
        const cached = Math.min(t.cachedTokens, t.promptTokens);
        const whole = costPicos(t, price);
        const parts =
          costPicos({ promptTokens: t.promptTokens - cached, cachedTokens: 0, completionTokens: 0 }, price) +
          costPicos({ promptTokens: cached, cachedTokens: cached, completionTokens: 0 }, price) +
          costPicos({ promptTokens: 0, cachedTokens: 0, completionTokens: t.completionTokens }, price);
        return whole === parts && whole >= 0n;
      }),
    );
  });
});

describe("price tables", () => {
  it("defaults the cached price to the input price (no implicit discount)", () => {
    const t = parsePriceTable({ m: { input: 1, output: 2 } }, "test");
    expect(t.get("m")).toEqual({ input: 1_000_000n, cachedInput: 1_000_000n, output: 2_000_000n });
  });

  it("names the model and field of a bad entry", () => {
    expect(() => parsePriceTable({ m: { input: -1, output: 2 } }, "MODEL_PRICES")).toThrow(
      /MODEL_PRICES.*m\.input/s,
    );
    expect(() => parsePriceTable({ m: { input: 1, output: 2, extra: 1 } }, "x")).toThrow(PriceConfigError);
    expect(() => parsePriceTable({ m: { input: 1 } }, "x")).toThrow(/output/);
  });

  it("reads inline JSON, or a YAML file by path", async () => {
    const inline = await loadPriceTable('{"a": {"input": 0.5, "output": 1.5}}');
    expect(inline.get("a")?.output).toBe(1_500_000n);
    const files: Record<string, string> = {
      "/p.yaml": "b:\n  input: '0.25'\n  output: 1\n  cachedInput: 0.125\n",
    };
    const fromFile = await loadPriceTable("/p.yaml", async (p) => files[p] as string);
    expect(fromFile.get("b")).toEqual({ input: 250_000n, cachedInput: 125_000n, output: 1_000_000n });
    expect((await loadPriceTable(undefined)).size).toBe(0);
  });

  it("fails start-up with the variable's name for an unreadable file or bad syntax", async () => {
    const missing = async () => Promise.reject(new Error("ENOENT"));
    await expect(loadPriceTable("/nope.yaml", missing)).rejects.toThrow(
      /MODEL_PRICES \(\/nope\.yaml\).*ENOENT/,
    );
    await expect(loadPriceTable('{"a": ')).rejects.toThrow(/MODEL_PRICES: not valid YAML\/JSON/);
  });
});
