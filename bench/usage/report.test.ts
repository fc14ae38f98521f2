import { formatTable, ratioLine, summarize } from "./report.js";

const series = [
  { query: "team", source: "rollups" as const, rows: 20, ms: [1, 2, 3, 4] },
  { query: "team", source: "raw" as const, rows: 20, ms: [10, 20, 30, 40] },
  { query: "key", source: "rollups" as const, rows: 200, ms: [5, 6, 7, 8] },
  { query: "key", source: "raw" as const, rows: 200, ms: [50, 60, 70, 80] },
];

describe("usage bench report", () => {
  it("compares each query's p95 with its raw baseline", () => {
    const rows = summarize(series);
    expect(rows.map((r) => [r.query, r.source, r.p95, r.vsRaw])).toEqual([
      ["team", "rollups", 4, 0.1],
      ["team", "raw", 40, 1],
      ["key", "rollups", 8, 0.1],
      ["key", "raw", 80, 1],
    ]);
    expect(formatTable(rows).split("\n")[0]).toBe(
      "| report (30 days) | reads   | rows out | p50 ms | p95 ms | p95 ÷ raw |",
    );
  });

  it("ends with the pooled p95 and its ratio to the raw baseline", () => {
    expect(ratioLine(series, ["team", "key"])).toBe("usage_report_p95_ms=8.00 usage_report_vs_raw=0.1000");
    expect(ratioLine(series, ["team"])).toBe("usage_report_p95_ms=4.00 usage_report_vs_raw=0.1000");
  });
});
