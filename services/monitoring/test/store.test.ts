import { jest } from "@jest/globals";
import { migrate, openDatabase } from "@sloughgpt/db";
import { rememberBudgetAlert } from "../src/usage/alerts.js";
import { exportUsage } from "../src/usage/export.js";
import { toLedgerRecord } from "../src/usage/record.js";
import { getSpend, queryUsage, type UsageRow } from "../src/usage/reports.js";
import { migrations, recordUsage, usageTotals } from "../src/usage/store.js";
import { DB_KINDS, expectedReport, makeEvents, openTestDb, PRICES, rng, type TestDb } from "./fixtures.js";

// Against a fresh database on the Postgres server at 127.0.0.1:5432 and against in-memory PGlite.
jest.setTimeout(60_000);

const at = (s: string) => Date.parse(s);
const EVENTS = makeEvents(3000, { seed: 7, start: "2024-05-25T00:00:00Z", days: 12 });
const records = (events = EVENTS) => events.map((e) => toLedgerRecord(e, PRICES));

describe.each(DB_KINDS)("usage ledger on %s", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(kind);
    // Batches of 500 as the consumer sends them, each with repeated ids, then every record again
    // in other batches (redelivery).
    const all = records();
    for (let i = 0; i < all.length; i += 500) {
      const batch = all.slice(i, i + 500);
      const fresh = await recordUsage(t.db, [...batch, ...batch.slice(0, 50)]);
      expect(fresh.map((r) => r.id)).toEqual(batch.map((r) => r.id));
    }
    for (let i = 0; i < all.length; i += 700) {
      expect(await recordUsage(t.db, all.slice(i, i + 700))).toEqual([]);
    }
  });
  afterAll(() => t?.close());

  it("keeps the first stored copy of an id: a changed duplicate changes nothing", async () => {
    const [first] = records();
    expect(await recordUsage(t.db, [{ ...first!, promptTokens: 1, costUsd: "9.000000000000" }])).toEqual([]);
    const { rows } = await t.db.query<{ prompt_tokens: number; cost: string }>(
      "SELECT prompt_tokens, cost_usd::text AS cost FROM monitoring.usage_events WHERE id = $1",
      [first!.id],
    );
    expect(rows).toEqual([{ prompt_tokens: first!.promptTokens, cost: first!.costUsd }]);
  });

  it("keeps the daily rollups equal to the raw records they summarise", async () => {
    const { rows } = await t.db.query<Record<string, string>>(
      `SELECT count(*)::text AS n FROM (
         SELECT day, team, key_id, model, count(*) AS requests, sum(prompt_tokens) AS p,
           sum(completion_tokens) AS c, sum(cost_usd) AS cost
         FROM monitoring.usage_events GROUP BY 1, 2, 3, 4
       ) raw FULL JOIN monitoring.usage_daily d USING (day, team, key_id, model)
       WHERE d.requests IS DISTINCT FROM raw.requests OR d.prompt_tokens IS DISTINCT FROM raw.p
         OR d.completion_tokens IS DISTINCT FROM raw.c OR d.cost_usd IS DISTINCT FROM raw.cost`,
    );
    expect(rows[0]?.n).toBe("0");
    const totals = await usageTotals(t.db);
    const all = expectedReport(EVENTS, { groupBy: [], fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }).get("");
    expect(totals).toEqual({
      requests: 3000,
      promptTokens: all?.promptTokens,
      completionTokens: all?.completionTokens,
      costUsd: all?.costUsd,
    });
  });

  const asMap = (rows: UsageRow[], groupBy: string[]) =>
    new Map(
      rows.map(({ team, keyId, model, day, ...m }) => {
        const g: Record<string, string | undefined> = { team, key: keyId, model, day };
        return [groupBy.map((k) => g[k]).join("|"), m] as const;
      }),
    );

  it.each([
    [["team"], "2024-05-26T00:00:00Z", "2024-06-04T00:00:00Z"],
    [["key", "model"], "2024-05-25T13:17:00Z", "2024-06-03T08:00:00.5Z"],
    [["day"], "2024-05-27T23:00:00Z", "2024-05-28T01:00:00Z"],
    [["model", "day", "team", "key"], "2024-05-20T00:00:00Z", "2024-06-10T00:00:00Z"],
    [[], "2024-05-30T06:00:00Z", "2024-05-30T06:00:00.001Z"],
  ] as const)("reports by %j over [%s, %s) exactly", async (groupBy, from, to) => {
    const q = { groupBy: [...groupBy], fromMs: at(from), toMs: at(to), limit: 10_000 };
    const res = await queryUsage(t.db, q);
    const want = expectedReport(EVENTS, q);
    // One total row even when nothing matched, as SQL aggregates do.
    if (groupBy.length === 0 && want.size === 0) expect(res.rows[0]?.requests).toBe(0);
    else expect(asMap(res.rows, [...groupBy])).toEqual(want);
    expect(res.truncated).toBe(false);
  });

  it("matches the ground truth for random ranges and filters", async () => {
    const rand = rng(3);
    for (let i = 0; i < 8; i++) {
      const fromMs = at("2024-05-24T00:00:00Z") + Math.floor(rand() * 10 * 86_400_000);
      const toMs = fromMs + Math.floor(rand() * 6 * 86_400_000) + 1;
      const filter = rand() < 0.5 ? { team: "team-1" } : { keyId: "k4" };
      const q = { groupBy: ["model" as const, "day" as const], fromMs, toMs, limit: 10_000, ...filter };
      expect(asMap((await queryUsage(t.db, q)).rows, ["model", "day"])).toEqual(expectedReport(EVENTS, q));
    }
  });

  it("orders groups and marks a truncated report", async () => {
    const q = {
      groupBy: ["key" as const],
      fromMs: at("2024-05-01T00:00:00Z"),
      toMs: at("2024-07-01T00:00:00Z"),
    };
    const res = await queryUsage(t.db, { ...q, limit: 4 });
    expect(res.rows.map((r) => r.keyId)).toEqual(["k0", "k1", "k2", "k3"]);
    expect(res.truncated).toBe(true);
  });

  it("exports every record once across pages and calls, in (finished_at, id) order", async () => {
    const q = {
      kind: "records" as const,
      fromMs: at("2024-05-26T12:00:00Z"),
      toMs: at("2024-06-05T00:00:00Z"),
    };
    const want = EVENTS.filter((e) => at(e.finishedAt) >= q.fromMs && at(e.finishedAt) < q.toMs);
    const got: { id: string; finishedAt: string }[] = [];
    let after: string | undefined;
    let calls = 0;
    const { decodePageToken } = await import("../src/usage/export.js");
    do {
      const cursor = after ? decodePageToken(after, "records") : undefined;
      after = await exportUsage(
        t.db,
        { ...q, limit: 1100, after: cursor },
        new AbortController().signal,
        async (p) => {
          if (p.kind === "records") got.push(...p.rows);
        },
      );
      calls++;
    } while (after);
    expect(calls).toBe(Math.ceil(want.length / 1100));
    expect(got.map((r) => r.id).sort()).toEqual(want.map((e) => e.id).sort());
    const order = got.map((r) => `${r.finishedAt} ${r.id}`);
    expect(order).toEqual([...order].sort());
    expect(got[0]).toMatchObject({
      finishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
    });
  });

  it("exports the daily rollup rows for whole days", async () => {
    const q = {
      kind: "daily" as const,
      fromMs: at("2024-05-27T00:00:00Z"),
      toMs: at("2024-05-29T00:00:00Z"),
    };
    const rows: UsageRow[] = [];
    await exportUsage(
      t.db,
      { ...q, limit: 100_000, team: "team-2" },
      new AbortController().signal,
      async (p) => {
        if (p.kind === "daily") rows.push(...p.rows);
      },
    );
    const want = expectedReport(EVENTS, { ...q, groupBy: ["day", "team", "key", "model"], team: "team-2" });
    expect(asMap(rows, ["day", "team", "key", "model"])).toEqual(want);
  });

  it("reads spend per key and team for UTC days and months", async () => {
    const key = await getSpend(t.db, {
      keyId: "k1",
      team: "team-1",
      period: "monthly",
      atMs: at("2024-05-31T23:59:59.999Z"),
    });
    const may = { fromMs: at("2024-05-01T00:00:00Z"), toMs: at("2024-06-01T00:00:00Z"), groupBy: [] };
    expect(key.key?.costUsd).toBe(expectedReport(EVENTS, { ...may, keyId: "k1" }).get("")?.costUsd);
    expect(key.team?.requests).toBe(expectedReport(EVENTS, { ...may, team: "team-1" }).get("")?.requests);
    expect(key.key?.updatedUnixMs).toBeGreaterThan(0);
    expect([new Date(key.periodStartMs).toISOString(), new Date(key.periodEndMs).toISOString()]).toEqual([
      "2024-05-01T00:00:00.000Z",
      "2024-06-01T00:00:00.000Z",
    ]);

    const june1 = { fromMs: at("2024-06-01T00:00:00Z"), toMs: at("2024-06-02T00:00:00Z"), groupBy: [] };
    const day = await getSpend(t.db, { team: "team-0", period: "daily", atMs: at("2024-06-01T10:00:00Z") });
    expect(day.team?.costUsd).toBe(expectedReport(EVENTS, { ...june1, team: "team-0" }).get("")?.costUsd);
    expect(day.key).toBeUndefined();

    const none = await getSpend(t.db, { keyId: "nobody", period: "daily", atMs: at("2030-01-01T00:00:00Z") });
    expect(none.key).toEqual({ costUsd: "0.000000000000", requests: 0, updatedUnixMs: 0 });
  });
});

describe("migration 0002", () => {
  it("keeps records stored before it and rolls them up unpriced", async () => {
    const db = await openDatabase({ url: undefined });
    try {
      await migrate(db, "monitoring", migrations.slice(0, 1));
      await db.query(
        `INSERT INTO monitoring.usage_events VALUES ('old', 'small', 'k', 'r', 5, 6, 1, 'ok', '2024-05-01T23:30:00-02:00')`,
      );
      expect(await migrate(db, "monitoring", migrations.slice(0, 2))).toEqual(["0002_usage_ledger"]);
      const q = {
        groupBy: ["day" as const, "team" as const],
        fromMs: 0,
        toMs: at("2030-01-01T00:00:00Z"),
        limit: 10,
      };
      expect((await queryUsage(db, q)).rows).toEqual([
        expect.objectContaining({
          day: "2024-05-02",
          team: "",
          requests: 1,
          unpricedRequests: 1,
          costUsd: "0.000000000000",
        }),
      ]);
      const spend = await getSpend(db, { keyId: "k", period: "monthly", atMs: at("2024-05-02T00:00:00Z") });
      expect(spend.key?.requests).toBe(1);
    } finally {
      await db.close();
    }
  });
});

describe.each(DB_KINDS)("budget alerts on %s", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("remembers each crossing once, whoever reports it and however late", async () => {
    const alert = {
      scope: "team" as const,
      subject: "research",
      team: "research",
      threshold: 0.8,
      budgetUsd: 100,
      spentUsd: "80.50",
      period: "monthly" as const,
      periodStart: "2026-12-01T00:00:00.000Z",
      at: "2026-12-06T10:00:00.000Z",
    };
    expect(await rememberBudgetAlert(t.db, alert)).toBe(true);
    expect(
      await rememberBudgetAlert(t.db, { ...alert, at: "2026-12-07T10:00:00.000Z", spentUsd: "90" }),
    ).toBe(false);
    expect(await rememberBudgetAlert(t.db, { ...alert, threshold: 1 })).toBe(true);
    expect(await rememberBudgetAlert(t.db, { ...alert, periodStart: "2027-01-01T00:00:00.000Z" })).toBe(true);
  });
});
