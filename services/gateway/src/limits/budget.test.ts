import { NO_LIMITS } from "../identity/types.js";
import { BudgetExceededError, budgetScopes, judgeBudgets, type ScopeSpend, trimUsd } from "./budget.js";

const spend = (spentUsd: string): ScopeSpend => ({
  spentUsd,
  periodStart: "2026-12-01T00:00:00.000Z",
  periodEnd: "2027-01-01T00:00:00.000Z",
});

describe("budgetScopes", () => {
  it("holds a request to its key's and its team's budgets, monthly unless told", () => {
    const scopes = budgetScopes({
      keyId: "k1",
      team: "t",
      limits: { ...NO_LIMITS, budgetUsd: 5, budgetPeriod: "daily" },
      teamLimits: { ...NO_LIMITS, budgetUsd: 100 },
    });
    expect(scopes).toEqual([
      { kind: "key", id: "k1", budgetUsd: 5, period: "daily" },
      { kind: "team", id: "t", budgetUsd: 100, period: "monthly" },
    ]);
  });

  it("has nothing to check without budgets (rate limits alone do not count)", () => {
    const who = { keyId: "k", team: "t", limits: { ...NO_LIMITS, rpm: 5 }, teamLimits: NO_LIMITS };
    expect(budgetScopes(who)).toEqual([]);
  });
});

describe("judgeBudgets", () => {
  const key = { kind: "key" as const, id: "k", budgetUsd: 10, period: "monthly" as const };
  const team = { kind: "team" as const, id: "t", budgetUsd: 1, period: "monthly" as const };

  it.each([
    ["7.999999999999", [], false],
    ["8.000000000000", [0.8], false],
    ["9.99", [0.8], false],
    ["10.000000000000", [0.8, 1], true],
    ["12.5", [0.8, 1], true],
  ])("with %s spent of 10 crosses %j (refused: %s)", (spent, crossed, refused) => {
    const v = judgeBudgets([key], new Map([["key", spend(spent)]]));
    expect(v.crossed.map((c) => c.threshold)).toEqual(crossed);
    expect(v.exhausted !== undefined).toBe(refused);
  });

  it("refuses for the first exhausted scope and alerts for every crossing", () => {
    const v = judgeBudgets(
      [key, team],
      new Map([
        ["key", spend("9")],
        ["team", spend("1.2")],
      ]),
    );
    expect(v.exhausted?.scope).toBe(team);
    expect(v.crossed.map((c) => `${c.scope.kind}:${c.threshold}`)).toEqual(["key:0.8", "team:0.8", "team:1"]);
  });

  it("refuses everything on a zero budget and judges nothing it has no reading for", () => {
    const zero = { ...key, budgetUsd: 0 };
    expect(judgeBudgets([zero], new Map([["key", spend("0")]])).exhausted).toBeDefined();
    expect(judgeBudgets([zero], new Map())).toEqual({ exhausted: undefined, crossed: [] });
  });
});

describe("BudgetExceededError", () => {
  it("is OpenAI's insufficient_quota, says when the budget renews and retries then", () => {
    const now = Date.parse("2026-12-31T23:00:00Z");
    const e = new BudgetExceededError(
      { kind: "team", id: "research", budgetUsd: 50, period: "monthly" },
      spend("50.250000000000"),
      now,
    );
    expect(e.reason).toBe("insufficient_quota");
    expect(e.message).toContain("team 'research'");
    expect(e.message).toContain("$50.25");
    expect(e.headers["retry-after"]).toBe("3600");
  });
});

describe("trimUsd", () => {
  it.each([
    ["12.500000000000", "12.50"],
    ["0.000001000000", "0.000001"],
    ["3", "3.00"],
  ])("%s → %s", (raw, shown) => expect(trimUsd(raw)).toBe(shown));
});
