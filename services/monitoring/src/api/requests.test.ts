import { monitoring } from "@sloughgpt/proto";
import { ZodError } from "zod";
import { encodePageToken } from "../usage/export.js";
import { parseExportUsage, parseGetSpend, parseQueryUsage } from "./requests.js";

const { UsageGroupBy: G, UsageExportKind: K, SpendPeriod: P } = monitoring;

const query = (over: Partial<monitoring.QueryUsageRequest> = {}): monitoring.QueryUsageRequest => ({
  groupBy: [G.USAGE_GROUP_BY_TEAM],
  from: "2024-05-01",
  to: "2024-05-31",
  team: "",
  keyId: "",
  model: "",
  limit: 0,
  ...over,
});

/** The field names and messages of the INVALID_ARGUMENT a request would get. */
function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ZodError) return err.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw err;
  }
  throw new Error("expected a validation error");
}

describe("parseQueryUsage", () => {
  it("maps a request to a half-open UTC range with defaults", () => {
    expect(parseQueryUsage(query({ keyId: "k1" }))).toEqual({
      groupBy: ["team"],
      fromMs: Date.parse("2024-05-01T00:00:00Z"),
      toMs: Date.parse("2024-06-01T00:00:00Z"),
      team: undefined,
      keyId: "k1",
      model: undefined,
      limit: 1000,
    });
  });

  it.each<[Partial<monitoring.QueryUsageRequest>, string]>([
    [{ groupBy: [G.USAGE_GROUP_BY_UNSPECIFIED] }, "group_by.0: expected team, key, model or day"],
    [{ groupBy: [G.USAGE_GROUP_BY_KEY, G.USAGE_GROUP_BY_KEY] }, "group_by: each grouping at most once"],
    [{ from: "" }, "from: required"],
    [{ from: "2024-02-30" }, "from: expected a date"],
    [{ to: "2024-04-30" }, "to: must be after from"],
    [{ to: "2025-12-31" }, "to: at most 400 days after from"],
    [{ limit: 10_001 }, "limit:"],
  ])("refuses %j naming the field", (over, message) => {
    expect(issues(() => parseQueryUsage(query(over))).join("; ")).toContain(message);
  });
});

describe("parseExportUsage", () => {
  const req = (over: Partial<monitoring.ExportUsageRequest> = {}): monitoring.ExportUsageRequest => ({
    kind: K.USAGE_EXPORT_KIND_UNSPECIFIED,
    from: "2024-05-01T12:00:00Z",
    to: "2024-05-02",
    team: "t",
    keyId: "",
    model: "",
    limit: 0,
    pageToken: "",
    ...over,
  });

  it("exports records by default, 100000 per call", () => {
    expect(parseExportUsage(req())).toMatchObject({
      kind: "records",
      limit: 100_000,
      team: "t",
      after: undefined,
    });
  });

  it("accepts a token of its kind and refuses one of the other", () => {
    const token = encodePageToken({ kind: "records", after: ["2024-05-01T12:00:00.000000Z", "id"] });
    expect(parseExportUsage(req({ pageToken: token })).after?.after).toEqual([
      "2024-05-01T12:00:00.000000Z",
      "id",
    ]);
    const daily = req({ kind: K.USAGE_EXPORT_KIND_DAILY, from: "2024-05-01", pageToken: token });
    expect(issues(() => parseExportUsage(daily))).toEqual([
      "page_token: page_token is not a token this export returned",
    ]);
  });

  it("takes whole days only for a daily export, and bounds the limit", () => {
    expect(issues(() => parseExportUsage(req({ kind: K.USAGE_EXPORT_KIND_DAILY })))).toEqual([
      "from: a daily export takes whole UTC days",
    ]);
    expect(issues(() => parseExportUsage(req({ limit: 1_000_001 })))[0]).toMatch(/^limit:/);
  });
});

describe("parseGetSpend", () => {
  const now = Date.parse("2024-05-10T10:00:00Z");
  it("reads the period containing `at`, now by default", () => {
    const r = parseGetSpend({ keyId: "k", team: "", period: P.SPEND_PERIOD_MONTHLY, at: "" }, now);
    expect(r).toEqual({ keyId: "k", team: undefined, period: "monthly", atMs: now });
  });

  it.each([
    [{ keyId: "", team: "" }, "key_id: name a key_id, a team or both"],
    [{ period: P.SPEND_PERIOD_UNSPECIFIED }, "period: expected daily or monthly"],
    [{ at: "2024-05-10" }, "at: expected an RFC 3339 instant"],
  ] as const)("refuses %j", (over, message) => {
    const r = { keyId: "k", team: "t", period: P.SPEND_PERIOD_DAILY, at: "", ...over };
    expect(issues(() => parseGetSpend(r, now))).toEqual([message]);
  });
});
