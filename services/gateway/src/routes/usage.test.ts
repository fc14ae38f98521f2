import { monitoring } from "@sloughgpt/proto";
import { defaultRange, usageQuery, usageTeam } from "./usage.js";

describe("usage routes' pure parts", () => {
  it("defaults to this month so far, in whole UTC days", () => {
    expect(defaultRange(Date.parse("2026-12-06T23:59:59Z"))).toEqual({
      from: "2026-12-01",
      to: "2026-12-06",
    });
    expect(defaultRange(Date.parse("2027-01-01T00:00:00Z"))).toEqual({
      from: "2027-01-01",
      to: "2027-01-01",
    });
  });

  it("parses group_by as a comma list and names a bad entry", () => {
    expect(usageQuery.parse({ group_by: "team,day" }).group_by).toEqual([
      monitoring.UsageGroupBy.USAGE_GROUP_BY_TEAM,
      monitoring.UsageGroupBy.USAGE_GROUP_BY_DAY,
    ]);
    expect(usageQuery.parse({}).group_by).toEqual([]);
    expect(() => usageQuery.parse({ group_by: "team,colour" })).toThrow(/'colour' is not one of/);
  });

  it("lets admins read any team and others only their own", () => {
    expect(usageTeam({ role: "admin", team: "default" }, undefined)).toBe("");
    expect(usageTeam({ role: "admin", team: "default" }, "research")).toBe("research");
    expect(usageTeam({ role: "consumer", team: "a" }, undefined)).toBe("a");
    expect(usageTeam({ role: "viewer", team: "a" }, "a")).toBe("a");
    expect(() => usageTeam({ role: "ml-engineer", team: "a" }, "b")).toThrow(
      /only read the usage of team 'a'/,
    );
  });
});
