import { setTimeout as sleep } from "node:timers/promises";
import { jest } from "@jest/globals";
import { type BudgetAlert, connectBus } from "@sloughgpt/bus";
import { createLogger } from "@sloughgpt/runtime";
import { type Platform, startPlatform } from "@sloughgpt/testing";
import { call, type Reply } from "./helpers.js";

jest.setTimeout(240_000);

// The whole platform with two gateway processes in front of it: limits, budgets and the usage
// ledger as a user meets them. Prices make the tiny model cost $0.001 a token.
let platform: Platform;
let gateways: string[];

beforeAll(async () => {
  platform = await startPlatform({
    extraEnv: { MODEL_PRICES: JSON.stringify({ "tiny-llama": { input: 1000, output: 1000 } }) },
  });
  gateways = [platform.gatewayUrl, await platform.addGatewayReplica()];
});

afterAll(async () => {
  await platform?.stop();
});

const admin = (path: string, json?: unknown) =>
  call<Record<string, unknown>>(platform.gatewayUrl, path, { key: platform.adminKey, json });

async function issueKey(body: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const res = await admin("/v1/admin/keys", { role: "consumer", ...body });
  expect(res.status).toBe(201);
  return res.body as unknown as { id: string; key: string };
}

const embed = (gateway: string, key: string) =>
  call(gateway, "/v1/embeddings", { key, json: { model: "tiny-llama", input: "count me in" } });

/** Limits count per minute: start a burst early enough in a minute that it cannot straddle two. */
async function awayFromMinuteEdge(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 45_000) await sleep(60_000 - into + 250);
}

const statuses = (replies: Reply[]) => replies.map((r) => r.status).sort();

describe("rate limits across two gateway replicas", () => {
  it("admits exactly a key's requests per minute between them", async () => {
    const k = await issueKey({ name: "rpm-10", team: "limited", rpm: 10 });
    await awayFromMinuteEdge();
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => embed(gateways[i % 2] as string, k.key)),
    );
    const admitted = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    expect([admitted.length, refused.length]).toEqual([10, 20]);
    // Requests alternate between the replicas: per-pod counters would have admitted 20.
    expect(new Set(admitted.map((r) => r.headers.get("x-ratelimit-limit-requests")))).toEqual(
      new Set(["10"]),
    );
    const r = refused[0] as Reply;
    expect(r.body.error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(r.headers.get("x-ratelimit-remaining-requests")).toBe("0");
  });

  it("holds a team's limit over all of its keys", async () => {
    expect((await admin("/v1/admin/teams", { name: "shared", rpm: 6 })).status).toBe(201);
    const [a, b] = [
      await issueKey({ name: "a", team: "shared" }),
      await issueKey({ name: "b", team: "shared" }),
    ];
    await awayFromMinuteEdge();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => embed(gateways[i % 2] as string, (i % 3 ? a : b).key)),
    );
    expect(statuses(replies)).toEqual([...Array(6).fill(200), ...Array(14).fill(429)]);
  });
});

describe("budgets and the usage ledger", () => {
  let spender: { id: string; key: string };
  let served = 0;

  it("refuses a key whose budget is spent with insufficient_quota, audits it and raises alerts", async () => {
    spender = await issueKey({ name: "spender", team: "frugal", budget_usd: 0.01, budget_period: "daily" });
    let refusal: Reply | undefined;
    // Each request costs a few tenths of a cent; spend reaches the ledger shortly after each answer.
    for (let i = 0; i < 60 && !refusal; i++) {
      const res = await embed(gateways[i % 2] as string, spender.key);
      if (res.status === 200) served++;
      else refusal = res;
      await sleep(100);
    }
    expect(refusal?.status).toBe(429);
    expect(refusal?.body.error).toMatchObject({ type: "insufficient_quota", code: "insufficient_quota" });
    expect(served).toBeGreaterThanOrEqual(2);

    // The refusing replica writes its audit entries every 250 ms; the one asked may be the other.
    const refusals = async () =>
      (
        (await admin("/v1/admin/audit?action=budget.refused")).body as {
          data: { actor: string; outcome: string; status: number }[];
        }
      ).data;
    let entries = await refusals();
    for (let i = 0; i < 20 && entries.length === 0; i++) {
      await sleep(100);
      entries = await refusals();
    }
    expect(entries).toContainEqual(
      expect.objectContaining({ actor: spender.id, outcome: "denied", status: 429 }),
    );

    const bus = await connectBus({
      url: platform.natsUrl,
      namespace: platform.namespace,
      name: "quota-test",
      logger: createLogger({ service: "quota-test", level: "silent" }),
    });
    try {
      const stream = bus.stream("ALERTS");
      const { state } = await bus.jsm.streams.info(stream);
      const alerts: BudgetAlert[] = [];
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await bus.jsm.streams.getMessage(stream, { seq });
        if (m) alerts.push(m.json<BudgetAlert>());
      }
      const mine = alerts.filter((a) => a.subject === spender.id);
      // Once each, although two replicas saw the crossing.
      expect(mine.map((a) => a.threshold).sort()).toEqual([0.8, 1]);
      expect(mine[0]).toMatchObject({ scope: "key", team: "frugal", budgetUsd: 0.01, period: "daily" });
    } finally {
      await bus.close();
    }
    // Monitoring turns them into a metric an alert rule can watch.
    const counted = async () =>
      (await (await fetch(`http://127.0.0.1:${platform.ports.ops.monitoring}/metrics`)).text())
        .split("\n")
        .filter((l) => l.startsWith("sloughgpt_budget_alerts_total{") && l.includes('scope="key"'));
    let lines = await counted();
    for (let i = 0; i < 30 && lines.length < 2; i++) {
      await sleep(100);
      lines = await counted();
    }
    expect(lines.map((l) => /threshold="([^"]+)"/.exec(l)?.[1]).sort()).toEqual(["0.8", "1"]);
  });

  it("reports usage per key of the caller's team only, and exports it as CSV", async () => {
    const mine = () =>
      call<{ data: { key_id: string; requests: number; cost_usd: string }[] }>(
        platform.gatewayUrl,
        "/v1/usage?group_by=key,model",
        { key: spender.key },
      );
    let res = await mine();
    for (let i = 0; i < 50 && res.body.data[0]?.requests !== served; i++) {
      await sleep(100);
      res = await mine();
    }
    expect(res.status).toBe(200);
    // Refused requests never ran, so they cost nothing and are not in the ledger.
    expect(res.body.data).toEqual([
      expect.objectContaining({ key_id: spender.id, model: "tiny-llama", requests: served }),
    ]);
    expect(Number(res.body.data[0]?.cost_usd)).toBeGreaterThanOrEqual(0.01);

    const other = await call(platform.gatewayUrl, "/v1/usage?team=limited", { key: spender.key });
    expect(other.status).toBe(403);
    expect(other.body.error?.code).toBe("team_not_allowed");

    const teams = await admin("/v1/usage?group_by=team");
    const names = (teams.body as { data: { team: string }[] }).data.map((r) => r.team);
    expect(names).toEqual(expect.arrayContaining(["frugal", "limited", "shared"]));

    const csv = await fetch(`${platform.gatewayUrl}/v1/usage/export.csv?team=frugal`, {
      headers: { authorization: `Bearer ${platform.adminKey}` },
    });
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trimEnd().split("\r\n");
    expect(lines[0]).toMatch(/^id,request_id,finished_at,team,key_id,model,status,/);
    expect(lines.slice(1)).toHaveLength(served);
    expect(lines.slice(1).every((l) => l.includes(`,frugal,${spender.id},tiny-llama,ok,`))).toBe(true);
  });

  it("answers a bad usage query with 400 naming the parameter", async () => {
    const res = await call(platform.gatewayUrl, "/v1/usage?group_by=colour", { key: spender.key });
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toMatch(/colour/);
    const range = await call(platform.gatewayUrl, "/v1/usage?from=2026-02-01&to=2026-01-01", {
      key: spender.key,
    });
    expect(range.status).toBe(400);
    expect(range.body.error?.param).toBe("to");
  });
});
