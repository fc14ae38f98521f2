import { credentials, status } from "@grpc/grpc-js";
import { jest } from "@jest/globals";
import { monitoring } from "@sloughgpt/proto";
import {
  AppError,
  callStream,
  callUnary,
  createLogger,
  createMetrics,
  type GrpcServer,
  startGrpcServer,
} from "@sloughgpt/runtime";
import type { IngestState } from "../src/ingest/usage-ingest.js";
import { monitoringHandlers } from "../src/server.js";
import { toLedgerRecord } from "../src/usage/record.js";
import { recordUsage } from "../src/usage/store.js";
import { expectedReport, makeEvents, openTestDb, PRICES, type TestDb } from "./fixtures.js";

// The gRPC API over a real server on loopback and a PGlite ledger: validation at the boundary
// (INVALID_ARGUMENT naming the proto field) and the responses a gateway renders.
jest.setTimeout(30_000);

const { UsageGroupBy: G, UsageExportKind: K, SpendPeriod: P } = monitoring;
const logger = createLogger({ service: "test", level: "silent" });
const EVENTS = makeEvents(2500, { seed: 5, start: "2024-06-28T00:00:00Z", days: 5 });
const ingest: IngestState = { backlogEvents: 7, ingestedUnixMs: 1_700_000_000_000 };

let t: TestDb;
let server: GrpcServer;
let client: monitoring.MonitoringServiceClient;

beforeAll(async () => {
  t = await openTestDb("pglite");
  await recordUsage(
    t.db,
    EVENTS.map((e) => toLedgerRecord(e, PRICES)),
  );
  const implementation = monitoringHandlers({
    checks: [],
    timeoutMs: 100,
    db: t.db,
    ingest,
    logger,
    metrics: createMetrics("test"),
  });
  server = await startGrpcServer({
    port: 0,
    host: "127.0.0.1",
    services: [{ name: "monitoring", definition: monitoring.MonitoringServiceService, implementation }],
    logger,
  });
  client = new monitoring.MonitoringServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await server?.shutdown(100);
  await t?.close();
});

const query = (over: Partial<monitoring.QueryUsageRequest>): monitoring.QueryUsageRequest => ({
  groupBy: [],
  from: "2024-06-01",
  to: "2024-07-31",
  team: "",
  keyId: "",
  model: "",
  limit: 0,
  ...over,
});

const exportReq = (over: Partial<monitoring.ExportUsageRequest>): monitoring.ExportUsageRequest => ({
  kind: K.USAGE_EXPORT_KIND_RECORDS,
  from: "2024-06-29T06:00:00Z",
  to: "2024-07-01T18:00:00Z",
  team: "",
  keyId: "",
  model: "",
  limit: 0,
  pageToken: "",
  ...over,
});

async function rejection(p: Promise<unknown>): Promise<{ code: number; param: string | undefined }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return { code: err.code, param: err.param };
}

async function drain(req: monitoring.ExportUsageRequest) {
  const messages: monitoring.ExportUsageResponse[] = [];
  for await (const m of callStream(client.exportUsage.bind(client), req)) messages.push(m);
  return messages;
}

describe("QueryUsage", () => {
  it("returns grouped rows, only the grouped columns set, and the range it covered", async () => {
    const res = await callUnary(
      client.queryUsage.bind(client),
      query({ groupBy: [G.USAGE_GROUP_BY_TEAM, G.USAGE_GROUP_BY_MODEL], from: "2024-06-29T12:00:00+02:00" }),
    );
    const want = expectedReport(EVENTS, {
      groupBy: ["team", "model"],
      fromMs: Date.parse("2024-06-29T10:00:00Z"),
      toMs: Date.parse("2024-08-01T00:00:00Z"),
    });
    expect(res.rows).toHaveLength(want.size);
    expect(res.rows[0]).toEqual({
      ...want.get(`${res.rows[0]?.team}|${res.rows[0]?.model}`),
      team: "team-0",
      model: "large",
      keyId: "",
      day: "",
    });
    expect([res.from, res.to, res.truncated]).toEqual([
      "2024-06-29T10:00:00.000Z",
      "2024-08-01T00:00:00.000Z",
      false,
    ]);
  });

  it.each([
    [{ groupBy: [G.USAGE_GROUP_BY_UNSPECIFIED] }, "group_by.0"],
    [{ groupBy: [G.USAGE_GROUP_BY_DAY, G.USAGE_GROUP_BY_DAY] }, "group_by"],
    [{ from: "June 1st" }, "from"],
    [{ to: "2024-05-01" }, "to"],
    [{ limit: 50_000 }, "limit"],
  ])("refuses %j with INVALID_ARGUMENT naming %s", async (over, param) => {
    expect(await rejection(callUnary(client.queryUsage.bind(client), query(over)))).toEqual({
      code: status.INVALID_ARGUMENT,
      param,
    });
  });
});

describe("ExportUsage", () => {
  it("streams records in pages of 1000 and hands back a token where the limit stopped it", async () => {
    const first = await drain(exportReq({ limit: 1100 }));
    expect(first.map((m) => [m.records.length, m.nextPageToken !== ""])).toEqual([
      [1000, false],
      [100, false],
      [0, true],
    ]);
    const rest = await drain(exportReq({ pageToken: first.at(-1)?.nextPageToken ?? "" }));
    expect(rest.at(-1)?.nextPageToken).toBe("");
    const ids = [...first, ...rest].flatMap((m) => m.records.map((r) => r.id));
    const from = Date.parse("2024-06-29T06:00:00Z");
    const to = Date.parse("2024-07-01T18:00:00Z");
    const want = EVENTS.filter((e) => Date.parse(e.finishedAt) >= from && Date.parse(e.finishedAt) < to);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(want.map((e) => e.id).sort());
    const sample = first[0]?.records[0];
    expect(sample).toMatchObject({
      costUsd: expect.stringMatching(/^\d+\.\d{12}$/),
      status: expect.any(String),
    });
  });

  it("streams daily rollup rows", async () => {
    const messages = await drain(
      exportReq({ kind: K.USAGE_EXPORT_KIND_DAILY, from: "2024-06-30", to: "2024-06-30", keyId: "k2" }),
    );
    const rows = messages.flatMap((m) => m.daily);
    expect(rows.map((r) => r.day)).toEqual(rows.map(() => "2024-06-30"));
    expect(rows.reduce((n, r) => n + r.requests, 0)).toBe(
      EVENTS.filter((e) => e.keyId === "k2" && e.finishedAt.startsWith("2024-06-30")).length,
    );
  });

  it.each([
    [{ pageToken: "garbage" }, "page_token"],
    [{ kind: K.USAGE_EXPORT_KIND_DAILY }, "from"],
    [{ limit: 2_000_000 }, "limit"],
  ])("refuses %j with INVALID_ARGUMENT naming %s", async (over, param) => {
    expect(await rejection(drain(exportReq(over)))).toEqual({ code: status.INVALID_ARGUMENT, param });
  });
});

describe("GetSpend", () => {
  it("returns key and team spend for the period with its bounds and the ledger's freshness", async () => {
    const res = await callUnary(client.getSpend.bind(client), {
      keyId: "k1",
      team: "team-1",
      period: P.SPEND_PERIOD_MONTHLY,
      at: "2024-07-15T00:00:00Z",
    });
    const july = {
      fromMs: Date.parse("2024-07-01T00:00:00Z"),
      toMs: Date.parse("2024-08-01T00:00:00Z"),
      groupBy: [],
    };
    expect(res.key?.costUsd).toBe(expectedReport(EVENTS, { ...july, keyId: "k1" }).get("")?.costUsd);
    expect(res.team?.requests).toBe(expectedReport(EVENTS, { ...july, team: "team-1" }).get("")?.requests);
    expect(res).toMatchObject({
      periodStart: "2024-07-01T00:00:00.000Z",
      periodEnd: "2024-08-01T00:00:00.000Z",
      backlogEvents: 7,
      ingestedUnixMs: 1_700_000_000_000,
    });
  });

  it("leaves out the side that was not asked for", async () => {
    const res = await callUnary(client.getSpend.bind(client), {
      keyId: "",
      team: "team-2",
      period: P.SPEND_PERIOD_DAILY,
      at: "",
    });
    expect(res.key).toBeUndefined();
    expect(res.team).toEqual({ costUsd: "0.000000000000", requests: 0, updatedUnixMs: 0 });
  });

  it("refuses a request naming neither key nor team", async () => {
    const req = { keyId: "", team: "", period: P.SPEND_PERIOD_DAILY, at: "" };
    expect(await rejection(callUnary(client.getSpend.bind(client), req))).toEqual({
      code: status.INVALID_ARGUMENT,
      param: "key_id",
    });
  });
});

describe("FleetStatus", () => {
  it("reports usage totals from the rollups", async () => {
    const res = await callUnary(client.fleetStatus.bind(client), {});
    const all = expectedReport(EVENTS, {
      groupBy: [],
      fromMs: 0,
      toMs: Date.parse("2100-01-01T00:00:00Z"),
    }).get("");
    expect(res.usage).toEqual({
      requests: 2500,
      promptTokens: all?.promptTokens,
      completionTokens: all?.completionTokens,
      costUsd: all?.costUsd,
    });
  });
});
