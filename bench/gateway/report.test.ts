import { describe, expect, it } from "@jest/globals";
import type { CpuSeconds } from "./cpu.js";
import {
  formatCpuTable,
  formatTable,
  type Measurement,
  type PathName,
  type Row,
  summarize,
  summaryLine,
} from "./report.js";

const cpu = (s = 0): CpuSeconds => ({ bench: s, gateway: s, serving: s, nginx: s, others: s });

/** `requests` requests in `seconds`, every one taking `ms` except the slowest, which takes `slowMs`. */
const m = (
  path: PathName,
  concurrency: number,
  round: number,
  o: { requests?: number; seconds?: number; ms?: number; slowMs?: number } = {},
): Measurement => {
  const requests = o.requests ?? 100;
  const ms = o.ms ?? 1;
  return {
    round,
    concurrency,
    path,
    seconds: o.seconds ?? 1,
    latenciesMs: [...Array.from({ length: requests - 1 }, () => ms), o.slowMs ?? ms],
    cpuSeconds: cpu(0.5),
  };
};

const row = (over: Partial<Row>): Row => ({
  concurrency: 1,
  path: "gateway",
  rps: 1234.4,
  rpsVsProxy: 0.5,
  p50Ms: 1.234,
  p99Ms: 5.678,
  addedP50Ms: 0.5,
  addedP99Ms: -0.25,
  cpuMsPerRequest: cpu(0.125),
  coresBusy: 1.5,
  ...over,
});

describe("summarize", () => {
  it("pairs each round's added latency with grpc's in the same round, then takes the median", () => {
    const rows = summarize([
      m("grpc", 1, 0, { ms: 2 }),
      m("grpc", 1, 1, { ms: 6 }),
      m("grpc", 1, 2, { ms: 3 }),
      // 1 ms over grpc in every round, although its pooled p50 (4) is 1 ms over grpc's (3) only by chance.
      m("gateway", 1, 0, { ms: 3 }),
      m("gateway", 1, 1, { ms: 7 }),
      m("gateway", 1, 2, { ms: 4 }),
    ]);
    const gateway = rows.find((r) => r.path === "gateway");
    expect(gateway).toMatchObject({ addedP50Ms: 1, addedP99Ms: 1, p50Ms: 4 });
    expect(rows.find((r) => r.path === "grpc")).toMatchObject({ addedP50Ms: 0, addedP99Ms: 0 });
  });

  it("divides each round's requests/s by nginx's in the same round", () => {
    const rows = summarize([
      m("nginx", 8, 0, { requests: 100, seconds: 1 }),
      m("nginx", 8, 1, { requests: 100, seconds: 2 }),
      m("nginx", 8, 2, { requests: 100, seconds: 0.5 }),
      m("gateway", 8, 0, { requests: 100, seconds: 2 }),
      m("gateway", 8, 1, { requests: 100, seconds: 4 }),
      m("gateway", 8, 2, { requests: 100, seconds: 1 }),
    ]);
    const gateway = rows.find((r) => r.path === "gateway");
    // Always half of nginx in its own round; the medians of the bare rates are 50 and 100.
    expect(gateway?.rpsVsProxy).toBe(0.5);
    expect(gateway?.rps).toBe(50);
    expect(rows.find((r) => r.path === "nginx")?.rpsVsProxy).toBe(1);
  });

  it("takes p99 over every request of every round, and reports CPU per request and cores busy", () => {
    const [grpc] = summarize([m("grpc", 1, 0, { slowMs: 90 }), m("grpc", 1, 1, { slowMs: 80 })]);
    // 200 samples: nearest rank 198 is still the common 1 ms; the two slow ones are above p99.
    expect(grpc?.p99Ms).toBe(1);
    expect(grpc?.cpuMsPerRequest.gateway).toBe(5);
    // Five groups, 0.5 s of CPU each, in 1 s.
    expect(grpc?.coresBusy).toBe(2.5);
  });

  it("leaves ratios and differences undefined (NaN) where the reference path did not run that round", () => {
    const rows = summarize([m("gateway", 1, 0), m("grpc", 1, 1), m("nginx", 1, 1)]);
    const gateway = rows.find((r) => r.path === "gateway");
    expect(gateway?.addedP50Ms).toBeNaN();
    expect(gateway?.rpsVsProxy).toBeNaN();
  });

  it("orders rows by concurrency, then grpc, gateway, nginx, direct", () => {
    const rows = summarize([m("direct", 8, 0), m("nginx", 1, 0), m("gateway", 8, 0), m("grpc", 1, 0)]);
    expect(rows.map((r) => `${r.concurrency}:${r.path}`)).toEqual([
      "1:grpc",
      "1:nginx",
      "8:gateway",
      "8:direct",
    ]);
  });
});

describe("summaryLine", () => {
  it("reports the gateway's added p50 at 1 client and its requests/s ÷ nginx at 8", () => {
    const rows = [
      row({ concurrency: 1, addedP50Ms: 0.8124, rpsVsProxy: 0.9 }),
      row({ concurrency: 8, addedP50Ms: 3, rpsVsProxy: 0.6125 }),
      row({ concurrency: 8, path: "nginx", rpsVsProxy: 1 }),
    ];
    expect(summaryLine(rows)).toBe("gateway_added_p50_ms=0.812 gateway_vs_nginx_rps=0.613");
  });

  it("says n/a for a level that was not measured", () => {
    expect(summaryLine([row({ concurrency: 1 })])).toBe(
      "gateway_added_p50_ms=0.500 gateway_vs_nginx_rps=n/a",
    );
  });
});

describe("tables", () => {
  it("formats throughput and latency with signed differences", () => {
    expect(formatTable([row({})]).split("\n")).toEqual([
      "| concurrency | path    | requests/s | ÷ nginx | p50 ms | p99 ms | +p50 ms | +p99 ms |",
      "|-------------|---------|-----------:|--------:|-------:|-------:|--------:|--------:|",
      "| 1           | gateway |       1234 |    0.50 |   1.23 |   5.68 |   +0.50 |   -0.25 |",
    ]);
  });

  it("formats CPU per request per process group", () => {
    const [header, , body] = formatCpuTable([row({})]).split("\n");
    expect(header).toContain("| gateway ms/req | serving ms/req | nginx ms/req | others ms/req |");
    expect(header).not.toContain("upstream");
    expect(body).toContain("|          0.125 |");
    expect(body?.endsWith("|       1.50 |")).toBe(true);
  });
});
