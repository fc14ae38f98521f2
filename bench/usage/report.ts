import { fixed, markdownTable } from "../serving/report.js";
import { median, percentile } from "../serving/stats.js";

/** Timings of one query shape against one source. */
export interface Series {
  /** What the report groups by, and over which range. */
  query: string;
  source: "rollups" | "raw";
  /** Rows the query returned. */
  rows: number;
  ms: number[];
}

export interface SummaryRow {
  query: string;
  source: string;
  rows: number;
  p50: number;
  p95: number;
  /** p95 over the raw baseline's p95 for the same query; 1 for the baseline itself. */
  vsRaw: number;
}

export function summarize(series: readonly Series[]): SummaryRow[] {
  const rawP95 = new Map(
    series.filter((s) => s.source === "raw").map((s) => [s.query, percentile(s.ms, 95)]),
  );
  return series.map((s) => {
    const p95 = percentile(s.ms, 95);
    return {
      query: s.query,
      source: s.source,
      rows: s.rows,
      p50: median(s.ms),
      p95,
      vsRaw: p95 / (rawP95.get(s.query) ?? Number.NaN),
    };
  });
}

export function formatTable(rows: readonly SummaryRow[]): string {
  return markdownTable(
    ["report (30 days)", "reads", "rows out", "p50 ms", "p95 ms", "p95 ÷ raw"],
    rows.map((r) => [r.query, r.source, String(r.rows), fixed(r.p50, 1), fixed(r.p95, 1), fixed(r.vsRaw, 3)]),
  );
}

/**
 * The machine-readable last line: p95 of the headline reports (the `headline` queries, samples
 * pooled) read from rollups, and that over the same reports' p95 read from raw records.
 */
export function ratioLine(series: readonly Series[], headline: readonly string[]): string {
  const pooled = (source: Series["source"]) =>
    series.filter((s) => s.source === source && headline.includes(s.query)).flatMap((s) => s.ms);
  const report = percentile(pooled("rollups"), 95);
  const raw = percentile(pooled("raw"), 95);
  return `usage_report_p95_ms=${fixed(report, 2)} usage_report_vs_raw=${fixed(report / raw, 4)}`;
}
