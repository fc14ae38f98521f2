import { monitoring } from "@sloughgpt/proto";
import { csvField, csvLine, DAILY_COLUMNS, dailyLine, RECORD_COLUMNS, recordLine } from "./csv.js";

describe("csv", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["=HYPERLINK(1)", "'=HYPERLINK(1)"],
    ["-1+1", "'-1+1"],
    ["@x,y", '"\'@x,y"'],
  ])("writes %j as %s", (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });

  it("leaves numbers alone, negative ones included", () => {
    expect(csvLine([-1, 2.5, true])).toBe("-1,2.5,true\r\n");
  });

  it("writes one field per column, in the header's order", () => {
    const record = monitoring.UsageRecord.fromPartial({
      id: "u1",
      team: "t",
      costUsd: "0.000001",
      cacheHit: true,
    });
    const fields = recordLine(record).trimEnd().split(",");
    expect(fields).toHaveLength(RECORD_COLUMNS.length);
    expect(fields[RECORD_COLUMNS.indexOf("cost_usd")]).toBe("0.000001");
    expect(fields[RECORD_COLUMNS.indexOf("cache_hit")]).toBe("true");
    const row = monitoring.UsageRow.fromPartial({ day: "2026-01-02", requests: 3, costUsd: "1.5" });
    const cols = dailyLine(row).trimEnd().split(",");
    expect(cols).toHaveLength(DAILY_COLUMNS.length);
    expect(cols[DAILY_COLUMNS.indexOf("requests")]).toBe("3");
  });
});
