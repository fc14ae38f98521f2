import { CPU_PROCESSES, type CpuSeconds } from "./cpu.js";
import { median, percentile } from "./stats.js";

/** The three ways the same generation is driven, from the engine alone to the public API. */
export const PATHS = ["raw", "grpc", "gateway"] as const;
export type PathName = (typeof PATHS)[number];

/** One timed load: `concurrency` clients on one path in one round. */
export interface Measurement {
  round: number;
  concurrency: number;
  path: PathName;
  tokens: number;
  seconds: number;
  ttftMs: number[];
  /** CPU used during the load, per process group. */
  cpuSeconds: CpuSeconds;
}

export interface Row {
  concurrency: number;
  path: PathName;
  /** Median over rounds of generated tokens per second, all clients together. */
  tokensPerSecond: number;
  /** Median over rounds of this path's tokens/s divided by raw's in the same round. */
  ratio: number;
  /** Over every request of every round. */
  ttftP50Ms: number;
  ttftP99Ms: number;
  /** Median over rounds of CPU milliseconds per generated token, per process group. */
  cpuMsPerToken: CpuSeconds;
  /** Median over rounds of all CPU time divided by wall time. */
  coresBusy: number;
}

/**
 * Rows per concurrency and path. Ratios pair each round with raw's measurement of the same round,
 * so slow drift of the machine cancels out rather than landing on whichever path ran later.
 */
export function summarize(measurements: readonly Measurement[]): Row[] {
  const levels = [...new Set(measurements.map((m) => m.concurrency))].sort((a, b) => a - b);
  return levels.flatMap((concurrency) => {
    const at = measurements.filter((m) => m.concurrency === concurrency);
    const raw = new Map(at.filter((m) => m.path === "raw").map((m) => [m.round, tokensPerSecond(m)]));
    return PATHS.flatMap((path) => {
      const mine = at.filter((m) => m.path === path);
      return mine.length === 0 ? [] : [row(concurrency, path, mine, raw)];
    });
  });
}

function row(
  concurrency: number,
  path: PathName,
  mine: readonly Measurement[],
  rawByRound: ReadonlyMap<number, number>,
): Row {
  const ttft = mine.flatMap((m) => m.ttftMs);
  const cpuMsPerToken = Object.fromEntries(
    CPU_PROCESSES.map((p) => [p, median(mine.map((m) => (1000 * m.cpuSeconds[p]) / m.tokens))]),
  ) as CpuSeconds;
  return {
    concurrency,
    path,
    tokensPerSecond: median(mine.map(tokensPerSecond)),
    ratio: median(mine.map((m) => tokensPerSecond(m) / (rawByRound.get(m.round) ?? Number.NaN))),
    ttftP50Ms: percentile(ttft, 50),
    ttftP99Ms: percentile(ttft, 99),
    cpuMsPerToken,
    coresBusy: median(mine.map((m) => CPU_PROCESSES.reduce((s, p) => s + m.cpuSeconds[p], 0) / m.seconds)),
  };
}

function tokensPerSecond(m: Measurement): number {
  return m.seconds > 0 ? m.tokens / m.seconds : Number.NaN;
}

/** A Markdown table, padded so it also reads well in a terminal; the first `textColumns` align left. */
export function markdownTable(header: readonly string[], body: readonly string[][], textColumns = 2): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? "").length)));
  const pad = (c: string, i: number) =>
    i < textColumns ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0);
  const line = (cells: readonly string[]) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = widths.map((w, i) => `${"-".repeat(w + 1)}${i < textColumns ? "-" : ":"}`);
  return [line(header), `|${rule.join("|")}|`, ...body.map(line)].join("\n");
}

/** Throughput and time to first token per concurrency and path. */
export function formatTable(rows: readonly Row[]): string {
  return markdownTable(
    ["concurrency", "path", "tokens/s", "÷ raw", "TTFT p50 ms", "TTFT p99 ms"],
    rows.map((r) => [
      String(r.concurrency),
      r.path,
      fixed(r.tokensPerSecond, 0),
      fixed(r.ratio, 2),
      fixed(r.ttftP50Ms, 1),
      fixed(r.ttftP99Ms, 1),
    ]),
  );
}

/** Where the CPU goes: milliseconds per generated token in each process group, and cores kept busy. */
export function formatCpuTable(rows: readonly Row[]): string {
  return markdownTable(
    ["concurrency", "path", ...CPU_PROCESSES.map((p) => `${p} ms/token`), "cores busy"],
    rows.map((r) => [
      String(r.concurrency),
      r.path,
      ...CPU_PROCESSES.map((p) => fixed(r.cpuMsPerToken[p], 2)),
      fixed(r.coresBusy, 2),
    ]),
  );
}

/** The machine-readable last line: gateway tokens/s over raw tokens/s at concurrency 1 and 8. */
export function ratioLine(rows: readonly Row[]): string {
  const at = (c: number) => rows.find((r) => r.path === "gateway" && r.concurrency === c)?.ratio;
  return `serving_ratio_c1=${fixed(at(1), 3)} serving_ratio_c8=${fixed(at(8), 3)}`;
}

/** A number rounded for a table; n/a where it is missing or not finite. */
export function fixed(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits);
}
