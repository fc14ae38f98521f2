import { describe, expect, it } from "@jest/globals";
import type { CpuSeconds } from "./cpu.js";
import {
  formatCpuTable,
  formatTable,
  type Measurement,
  markdownTable,
  type PathName,
  type Row,
  ratioLine,
  summarize,
} from "./report.js";

const cpu = (s = 0): CpuSeconds => ({ bench: s, serving: s, engine: s, gateway: s, others: s });

const m = (
  path: PathName,
  concurrency: number,
  round: number,
  tokens: number,
  ttftMs = [10],
): Measurement => ({
  round,
  concurrency,
  path,
  tokens,
  seconds: 1,
  ttftMs,
  cpuSeconds: cpu(0.2),
});

const row = (over: Partial<Row>): Row => ({
  concurrency: 1,
  path: "raw",
  tokensPerSecond: 100,
  ratio: 1,
  ttftP50Ms: 12.34,
  ttftP99Ms: 56.78,
  cpuMsPerToken: cpu(1.5),
  coresBusy: 0.9,
  ...over,
});

describe("summarize", () => {
  it("takes the median over rounds and pairs each round's ratio with raw's in the same round", () => {
    const rows = summarize([
      m("raw", 1, 0, 100),
      m("raw", 1, 1, 200),
      m("raw", 1, 2, 120),
      // Always 90 % of raw in its own round, although its median tokens/s (108) is below raw's (120).
      m("gateway", 1, 0, 90),
      m("gateway", 1, 1, 180),
      m("gateway", 1, 2, 108),
    ]);
    expect(rows.map((r) => [r.path, r.tokensPerSecond, r.ratio])).toEqual([
      ["raw", 120, 1],
      ["gateway", 108, 0.9],
    ]);
  });

  it("orders rows by concurrency, then raw, grpc, gateway, and pools TTFT samples over rounds", () => {
    const rows = summarize([
      m("gateway", 8, 0, 10, [30, 10]),
      m("grpc", 8, 0, 10),
      m("raw", 8, 0, 10),
      m("raw", 1, 0, 10),
      m("gateway", 8, 1, 10, [20, 40]),
      m("raw", 8, 1, 10),
    ]);
    expect(rows.map((r) => `${r.concurrency}/${r.path}`)).toEqual(["1/raw", "8/raw", "8/grpc", "8/gateway"]);
    const gateway = rows.find((r) => r.path === "gateway" && r.concurrency === 8);
    expect([gateway?.ttftP50Ms, gateway?.ttftP99Ms]).toEqual([20, 40]);
  });

  it("reports CPU per generated token and cores kept busy", () => {
    const [only] = summarize([m("raw", 1, 0, 200)]);
    expect(only?.cpuMsPerToken).toEqual(cpu(1));
    expect(only?.coresBusy).toBe(1);
  });

  it("has no ratio for a path measured in a round without raw", () => {
    const [only] = summarize([m("grpc", 4, 0, 10)]);
    expect(only?.ratio).toBeNaN();
  });
});

describe("tables", () => {
  it("pads columns, aligning text left and numbers right", () => {
    expect(
      markdownTable(
        ["a", "value"],
        [
          ["long text", "1"],
          ["x", "1234567"],
        ],
        1,
      ),
    ).toBe(
      [
        "| a         |   value |",
        "|-----------|--------:|",
        "| long text |       1 |",
        "| x         | 1234567 |",
      ].join("\n"),
    );
  });

  it("prints throughput, ratio and TTFT rounded, n/a where a value is missing", () => {
    const table = formatTable([row({}), row({ path: "gateway", tokensPerSecond: 87.6, ratio: Number.NaN })]);
    expect(table.split("\n")).toEqual([
      "| concurrency | path    | tokens/s | ÷ raw | TTFT p50 ms | TTFT p99 ms |",
      "|-------------|---------|---------:|------:|------------:|------------:|",
      "| 1           | raw     |      100 |  1.00 |        12.3 |        56.8 |",
      "| 1           | gateway |       88 |   n/a |        12.3 |        56.8 |",
    ]);
  });

  it("prints CPU per token for each process group", () => {
    const [header, , line] = formatCpuTable([row({})]).split("\n");
    expect(header).toBe(
      "| concurrency | path | bench ms/token | serving ms/token | engine ms/token | gateway ms/token | others ms/token | cores busy |",
    );
    expect(line?.split("|").map((c) => c.trim())).toEqual([
      "",
      "1",
      "raw",
      "1.50",
      "1.50",
      "1.50",
      "1.50",
      "1.50",
      "0.90",
      "",
    ]);
  });
});

describe("ratioLine", () => {
  it("gives the gateway's ratio at concurrency 1 and 8 in the fixed format", () => {
    const rows = [
      row({ concurrency: 1, path: "gateway", ratio: 0.91234 }),
      row({ concurrency: 8, path: "grpc", ratio: 0.5 }),
      row({ concurrency: 8, path: "gateway", ratio: 0.987 }),
    ];
    expect(ratioLine(rows)).toBe("serving_ratio_c1=0.912 serving_ratio_c8=0.987");
  });

  it("says n/a for a level that was not measured", () => {
    expect(ratioLine([row({ concurrency: 1, path: "gateway", ratio: 1 })])).toBe(
      "serving_ratio_c1=1.000 serving_ratio_c8=n/a",
    );
  });
});
