import { describe, expect, it } from "@jest/globals";
import type { ChildResult } from "./quant-protocol.js";
import {
  formatMemoryTable,
  formatSpeedTable,
  type QuantMeasurement,
  type QuantRow,
  type QuantType,
  quantRatioLine,
  summarizeQuant,
} from "./quant-report.js";

const MIB = 2 ** 20;

/** A child that decoded `decode` tokens/s with `rssMib` resident once loaded (100 MiB before). */
const m = (
  type: QuantType,
  round: number,
  decode: number,
  rssMib = 200,
  prompt = 2 * decode,
): QuantMeasurement => {
  const resident = (mib: number) => ({
    rss: mib * MIB,
    peak: (mib + 10) * MIB,
    anon: mib * MIB * 0.75,
    file: mib * MIB * 0.25,
  });
  const result: ChildResult = {
    memory: { beforeLoad: resident(100), loaded: resident(rssMib), end: resident(rssMib + 5) },
    decode: { tokens: decode * 2, seconds: 2 },
    promptEval: { tokens: prompt, seconds: 1 },
    systemInfo: "",
  };
  return { round, type, result };
};

const FILES = { f16: 64 * MIB, q8_0: 32 * MIB, q4_0: 16 * MIB, q4_k: 16 * MIB };

describe("summarizeQuant", () => {
  it("takes medians over rounds and pairs each round's ratio with f16's in the same round", () => {
    const rows = summarizeQuant(
      [
        m("f16", 0, 100),
        m("q4_0", 0, 300),
        m("f16", 1, 200),
        m("q4_0", 1, 600),
        m("f16", 2, 120),
        // Always 3x f16 in its own round, although its median (360) is not 3x f16's median (120).
        m("q4_0", 2, 360),
      ],
      FILES,
    );
    expect(rows.map((r) => [r.type, r.decodeTokensPerSecond, r.decodeRatio, r.promptRatio])).toEqual([
      ["f16", 120, 1, 1],
      ["q4_0", 360, 3, 3],
    ]);
  });

  it("orders rows f16, q8_0, q4_0, q4_k whatever order they ran in", () => {
    const rows = summarizeQuant([m("q4_k", 0, 1), m("q8_0", 0, 1), m("f16", 0, 1), m("q4_0", 0, 1)], FILES);
    expect(rows.map((r) => r.type)).toEqual(["f16", "q8_0", "q4_0", "q4_k"]);
  });

  it("reports memory with the model loaded, what loading added, the peak, and size against f16", () => {
    const [, q8] = summarizeQuant([m("f16", 0, 1, 250), m("q8_0", 0, 1, 200)], FILES);
    expect(q8).toMatchObject({
      fileBytes: 32 * MIB,
      sizeRatio: 0.5,
      rssBytes: 200 * MIB,
      rssRatio: 0.8,
      modelAndContextBytes: 100 * MIB,
      anonBytes: 150 * MIB,
      mappedFileBytes: 50 * MIB,
      peakBytes: 215 * MIB,
    });
  });

  it("has no ratio for a round without f16", () => {
    const [only] = summarizeQuant([m("q4_k", 0, 10)], { q4_k: 1 });
    expect(only?.decodeRatio).toBeNaN();
    expect(only?.rssRatio).toBeNaN();
    expect(only?.sizeRatio).toBeNaN();
  });
});

const row = (over: Partial<QuantRow>): QuantRow => ({
  type: "f16",
  fileBytes: 56586784,
  sizeRatio: 1,
  rssBytes: 275.54 * MIB,
  rssRatio: 1,
  modelAndContextBytes: 126.2 * MIB,
  anonBytes: 173.5 * MIB,
  mappedFileBytes: 102 * MIB,
  peakBytes: 290.2 * MIB,
  decodeTokensPerSecond: 373.6,
  decodeRatio: 1,
  promptTokensPerSecond: 1688.4,
  promptRatio: 1,
  ...over,
});

describe("quant tables", () => {
  it("prints sizes in bytes and MiB and memory in MiB, each with its ratio to f16", () => {
    expect(
      formatMemoryTable([row({}), row({ type: "q4_k", sizeRatio: 0.2865, rssRatio: Number.NaN })]).split(
        "\n",
      ),
    ).toEqual([
      "| type | file bytes | file MiB | ÷ f16 | RSS MiB | ÷ f16 | model+ctx MiB | anon MiB | file-backed MiB | peak MiB |",
      "|------|-----------:|---------:|------:|--------:|------:|--------------:|---------:|----------------:|---------:|",
      "| f16  |   56586784 |     54.0 |  1.00 |   275.5 |  1.00 |         126.2 |    173.5 |           102.0 |    290.2 |",
      "| q4_k |   56586784 |     54.0 |  0.29 |   275.5 |   n/a |         126.2 |    173.5 |           102.0 |    290.2 |",
    ]);
  });

  it("prints decode and prompt throughput with their ratios to f16", () => {
    expect(
      formatSpeedTable([row({}), row({ type: "q4_0", decodeRatio: 2.666, promptRatio: 1.97 })]).split("\n"),
    ).toEqual([
      "| type | decode tokens/s | ÷ f16 | prompt tokens/s | ÷ f16 |",
      "|------|----------------:|------:|----------------:|------:|",
      "| f16  |             374 |  1.00 |            1688 |  1.00 |",
      "| q4_0 |             374 |  2.67 |            1688 |  1.97 |",
    ]);
  });
});

describe("quantRatioLine", () => {
  it("gives the decode ratios of q4_0 and q4_k to f16 in the fixed format", () => {
    const rows = [
      row({}),
      row({ type: "q4_0", decodeRatio: 2.6616 }),
      row({ type: "q4_k", decodeRatio: 2.3871 }),
    ];
    expect(quantRatioLine(rows)).toBe(
      "quant_tokens_per_s_ratio_q4_0=2.662 quant_tokens_per_s_ratio_q4_k=2.387",
    );
  });

  it("says n/a for a type that was not measured", () => {
    expect(quantRatioLine([row({ type: "q4_0", decodeRatio: 2 })])).toBe(
      "quant_tokens_per_s_ratio_q4_0=2.000 quant_tokens_per_s_ratio_q4_k=n/a",
    );
  });
});
