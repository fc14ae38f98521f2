import { fixed, markdownTable } from "../serving/report.js";
import { median, percentile } from "../serving/stats.js";
import { CPU_GROUPS, type CpuSeconds } from "./cpu.js";

/** The four ways the same request reaches one serving process and its cached answer. */
export const PATHS = ["grpc", "gateway", "nginx", "direct"] as const;
export type PathName = (typeof PATHS)[number];

/** What the gateway's added latency is measured against, and what its throughput is divided by. */
export const BASELINE: PathName = "grpc";
export const PROXY: PathName = "nginx";

/** One timed load: `concurrency` clients on one path in one round. */
export interface Measurement {
  round: number;
  concurrency: number;
  path: PathName;
  seconds: number;
  latenciesMs: number[];
  /** CPU used during the load, per process group. */
  cpuSeconds: CpuSeconds;
}

export interface Row {
  concurrency: number;
  path: PathName;
  /** Median over rounds of completed requests per second, all clients together. */
  rps: number;
  /** Median over rounds of this path's requests/s divided by nginx's in the same round. */
  rpsVsProxy: number;
  /** Over every request of every round (nearest rank). */
  p50Ms: number;
  p99Ms: number;
  /** Median over rounds of this path's p50 (p99) minus grpc's in the same round. */
  addedP50Ms: number;
  addedP99Ms: number;
  /** Median over rounds of CPU milliseconds per request, per process group. */
  cpuMsPerRequest: CpuSeconds;
  /** Median over rounds of all CPU time divided by wall time. */
  coresBusy: number;
}

const rpsOf = (m: Measurement) => (m.seconds > 0 ? m.latenciesMs.length / m.seconds : Number.NaN);

/**
 * Rows per concurrency and path. Differences and ratios pair each round with the reference path's
 * measurement of the same round, so drift of a shared machine between rounds cancels out.
 */
export function summarize(measurements: readonly Measurement[]): Row[] {
  const levels = [...new Set(measurements.map((m) => m.concurrency))].sort((a, b) => a - b);
  return levels.flatMap((concurrency) => {
    const at = measurements.filter((m) => m.concurrency === concurrency);
    const byRound = (path: PathName) => new Map(at.filter((m) => m.path === path).map((m) => [m.round, m]));
    const refs = { baseline: byRound(BASELINE), proxy: byRound(PROXY) };
    return PATHS.flatMap((path) => {
      const mine = at.filter((m) => m.path === path);
      return mine.length === 0 ? [] : [row(concurrency, path, mine, refs)];
    });
  });
}

type ByRound = ReadonlyMap<number, Measurement>;

/** Median over rounds of f(mine, reference) where the reference path ran in the same round. */
function paired(mine: readonly Measurement[], ref: ByRound, f: (m: Measurement, r: Measurement) => number) {
  return median(mine.flatMap((m) => (ref.has(m.round) ? [f(m, ref.get(m.round) as Measurement)] : [])));
}

function row(
  concurrency: number,
  path: PathName,
  mine: readonly Measurement[],
  refs: { baseline: ByRound; proxy: ByRound },
): Row {
  const all = mine.flatMap((m) => m.latenciesMs);
  const added = (p: number) => (m: Measurement, r: Measurement) =>
    percentile(m.latenciesMs, p) - percentile(r.latenciesMs, p);
  const cpuMsPerRequest = Object.fromEntries(
    CPU_GROUPS.map((g) => [g, median(mine.map((m) => (1000 * m.cpuSeconds[g]) / m.latenciesMs.length))]),
  ) as CpuSeconds;
  return {
    concurrency,
    path,
    rps: median(mine.map(rpsOf)),
    rpsVsProxy: paired(mine, refs.proxy, (m, r) => rpsOf(m) / rpsOf(r)),
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    addedP50Ms: paired(mine, refs.baseline, added(50)),
    addedP99Ms: paired(mine, refs.baseline, added(99)),
    cpuMsPerRequest,
    coresBusy: median(mine.map((m) => CPU_GROUPS.reduce((s, g) => s + m.cpuSeconds[g], 0) / m.seconds)),
  };
}

/** Throughput, latency and what each path adds over grpc, per concurrency and path. */
export function formatTable(rows: readonly Row[]): string {
  return markdownTable(
    ["concurrency", "path", "requests/s", `÷ ${PROXY}`, "p50 ms", "p99 ms", "+p50 ms", "+p99 ms"],
    rows.map((r) => [
      String(r.concurrency),
      r.path,
      fixed(r.rps, 0),
      fixed(r.rpsVsProxy, 2),
      fixed(r.p50Ms, 2),
      fixed(r.p99Ms, 2),
      signed(r.addedP50Ms, 2),
      signed(r.addedP99Ms, 2),
    ]),
  );
}

/** Where the CPU goes: milliseconds per request in each process group, and cores kept busy. */
export function formatCpuTable(rows: readonly Row[]): string {
  return markdownTable(
    ["concurrency", "path", ...CPU_GROUPS.map((g) => `${g} ms/req`), "cores busy"],
    rows.map((r) => [
      String(r.concurrency),
      r.path,
      ...CPU_GROUPS.map((g) => fixed(r.cpuMsPerRequest[g], 3)),
      fixed(r.coresBusy, 2),
    ]),
  );
}

/** The machine-readable last line: the gateway's added p50 at 1 client, its requests/s ÷ nginx's at 8. */
export function summaryLine(rows: readonly Row[]): string {
  const gateway = (c: number) => rows.find((r) => r.path === "gateway" && r.concurrency === c);
  return (
    `gateway_added_p50_ms=${fixed(gateway(1)?.addedP50Ms, 3)} ` +
    `gateway_vs_nginx_rps=${fixed(gateway(8)?.rpsVsProxy, 3)}`
  );
}

function signed(x: number, digits: number): string {
  const text = fixed(x, digits);
  return Number.isFinite(x) && x >= 0 ? `+${text}` : text;
}
