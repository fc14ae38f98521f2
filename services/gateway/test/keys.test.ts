import { jest } from "@jest/globals";
import { type Db, migrate } from "@sloughgpt/db";
import { createTestDatabase, type TestDatabase } from "@sloughgpt/testing";
import { gatewayMigrations, openGatewayDatabase } from "../src/database.js";
import { ADMIN_KEY, call, createKey, startGateway, type TestGateway } from "./helpers.js";

jest.setTimeout(60_000);

// The key store, admin API and audit log against both databases the gateway runs on.
describe.each(["pglite", "postgres"] as const)("keys, teams and audit on %s", (kind) => {
  let pg: TestDatabase | undefined;
  let db: Db;
  let gw: TestGateway;

  beforeAll(async () => {
    pg = kind === "postgres" ? await createTestDatabase() : undefined;
    db = await openGatewayDatabase({ url: pg?.url });
    gw = await startGateway({ db });
  });

  afterAll(async () => {
    await gw?.close();
    await db?.close();
    await pg?.drop();
  });

  it("migrates idempotently", async () => {
    expect(await migrate(db, "gateway", gatewayMigrations)).toEqual([]);
  });

  it("creates a key, shows its secret once and stores only a salted hash", async () => {
    const created = await createKey(gw.url, {
      name: "search-bot",
      team: "search",
      role: "consumer",
      rpm: 60,
      tpm: 10_000,
      budget_usd: 12.5,
      models: ["tiny-llama"],
      expires_at: "2999-01-01T00:00:00Z",
    });
    expect(created).toMatchObject({
      object: "api_key",
      name: "search-bot",
      team: "search",
      role: "consumer",
      rpm: 60,
      tpm: 10_000,
      budget_usd: 12.5,
      budget_period: "monthly",
      models: ["tiny-llama"],
      expires_at: "2999-01-01T00:00:00.000Z",
      revoked: false,
      created_by: "admin",
    });
    expect(created.key).toMatch(new RegExp(`^sk-sg-${created.id}_[0-9A-Za-z]{43}$`));
    const secret = created.key.split("_")[1] as string;

    const list = await call<{ data: Record<string, unknown>[] }>(gw.url, "/v1/admin/keys", {
      key: ADMIN_KEY,
    });
    expect(list.body.data.find((k) => k.id === created.id)).toMatchObject({
      name: "search-bot",
      revoked: false,
    });
    const listed = JSON.stringify(list.body);
    expect(listed).not.toContain(secret);
    expect(listed).not.toMatch(/"(key|hash|salt)"/);

    const { rows } = await db.query("SELECT * FROM gateway.api_keys WHERE id = $1", [created.id]);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("authenticates the key with its role, team and limits, and creates its team", async () => {
    const created = await createKey(gw.url, { name: "n", team: "new-team", role: "viewer", rpm: 5 });
    const principal = await gw.directory.findKey(created.id);
    expect(principal).toMatchObject({ team: "new-team", role: "viewer", limits: { rpm: 5, tpm: null } });
    const teams = await call<{ data: { name: string }[] }>(gw.url, "/v1/admin/teams", { key: ADMIN_KEY });
    expect(teams.body.data.map((t) => t.name)).toEqual(expect.arrayContaining(["default", "new-team"]));
    // A viewer may read models (the upstream is absent here: 503) but not create keys.
    expect((await call(gw.url, "/v1/models", { key: created.key })).status).toBe(503);
    const refused = await call(gw.url, "/v1/admin/keys", { key: created.key });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "insufficient_permissions", type: "permission_error" });
  });

  it.each([
    [{ name: "x", team: "t", role: "root" }, "role"],
    [{ name: "x", team: "t", role: "viewer", budget_period: "daily" }, "budget_period"],
    [{ name: "x", team: "t", role: "viewer", expires_at: "2001-01-01" }, "expires_at"],
    [{ name: "x", team: "t", role: "viewer", expires_at: "next week" }, "expires_at"],
    [{ name: "x", team: "bad team!", role: "viewer" }, "team"],
    [{ name: "x", team: "t", role: "viewer", models: [] }, "models"],
    [{ name: "x", team: "t", role: "viewer", rpm: 0 }, "rpm"],
    [{ name: "x", team: "t", role: "viewer", rpm: 3_000_000_000 }, "rpm"],
    [{ name: "x", team: "t", role: "viewer", tpm: 2 ** 31 }, "tpm"],
    [{ name: "x", team: "t", role: "viewer", budget_usd: 1e12 }, "budget_usd"],
    [{ name: "x", team: "t", role: "viewer", budget_usd: 0.0000004 }, "budget_usd"],
    [{ name: "x", team: "t", role: "viewer", colour: "red" }, null],
  ])("refuses %j with a 400 naming %s", async (json, param) => {
    const res = await call(gw.url, "/v1/admin/keys", { key: ADMIN_KEY, json });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", param });
  });

  it("revokes a key: refused at once with revoked_api_key, revocation is idempotent", async () => {
    const created = await createKey(gw.url, { name: "r", team: "search", role: "consumer" });
    expect((await call(gw.url, "/v1/models", { key: created.key })).status).toBe(503);
    const revoke = await call(gw.url, `/v1/admin/keys/${created.id}`, { key: ADMIN_KEY, method: "DELETE" });
    expect(revoke.status).toBe(200);
    expect(revoke.body).toMatchObject({ id: created.id, revoked: true });
    const again = await call(gw.url, `/v1/admin/keys/${created.id}`, { key: ADMIN_KEY, method: "DELETE" });
    expect(again.body).toMatchObject({ revoked_at: revoke.body.revoked_at });
    const refused = await call(gw.url, "/v1/models", { key: created.key });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatchObject({ code: "revoked_api_key", type: "invalid_request_error" });
    const unknown = await call(gw.url, "/v1/admin/keys/nope", { key: ADMIN_KEY, method: "DELETE" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.code).toBe("key_not_found");
  });

  it("refuses an expired key with expired_api_key", async () => {
    const created = await createKey(gw.url, { name: "e", team: "search", role: "consumer" });
    await db.query("UPDATE gateway.api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [
      created.id,
    ]);
    gw.directory.evictKey(created.id);
    const res = await call(gw.url, "/v1/models", { key: created.key });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe("expired_api_key");
  });

  it("limits a key to its models on chat, completions and embeddings", async () => {
    const created = await createKey(gw.url, {
      name: "m",
      team: "search",
      role: "consumer",
      models: ["tiny-llama"],
    });
    const body = { messages: [{ role: "user", content: "hi" }] };
    for (const [path, json] of [
      ["/v1/chat/completions", { ...body, model: "big-llama" }],
      ["/v1/completions", { prompt: "x", model: "big-llama" }],
      ["/v1/embeddings", { input: "x", model: "big-llama" }],
    ] as const) {
      const res = await call(gw.url, path, { key: created.key, json });
      expect([path, res.status, res.body.error?.code]).toEqual([path, 403, "model_not_allowed"]);
      expect(res.body.error?.param).toBe("model");
    }
    const allowed = await call(gw.url, "/v1/chat/completions", {
      key: created.key,
      json: { ...body, model: "tiny-llama" },
    });
    expect(allowed.status).toBe(503);
  });

  it("creates a team with limits, and replaces them on a second POST", async () => {
    const first = await call(gw.url, "/v1/admin/teams", {
      key: ADMIN_KEY,
      json: { name: "research", rpm: 100, tpm: 50_000, budget_usd: 200, budget_period: "daily" },
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: "research", rpm: 100, budget_usd: 200, budget_period: "daily" });
    const second = await call(gw.url, "/v1/admin/teams", {
      key: ADMIN_KEY,
      json: { name: "research", rpm: 10 },
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ rpm: 10, tpm: null, budget_usd: null, budget_period: null });
    const key = await createKey(gw.url, { name: "k", team: "research", role: "consumer" });
    expect((await gw.directory.findKey(key.id))?.teamLimits).toEqual({
      rpm: 10,
      tpm: null,
      budgetUsd: null,
      budgetPeriod: null,
    });
  });

  it("audits admin actions and refusals with who, what, where and the request id", async () => {
    const created = await call<{ id: string }>(gw.url, "/v1/admin/keys", {
      key: ADMIN_KEY,
      json: { name: "audited", team: "search", role: "viewer" },
      headers: { "x-request-id": `req-create-${kind}` },
    });
    const bogus = `sk-sg-AAAAAAAAAAAA_${"b".repeat(43)}`;
    await call(gw.url, "/v1/models", { key: bogus, headers: { "x-request-id": `req-bad-${kind}` } });
    await call(gw.url, "/v1/models", { headers: { "x-request-id": `req-none-${kind}` } });
    const viewer = await createKey(gw.url, { name: "v", team: "search", role: "viewer" });
    await call(gw.url, "/v1/chat/completions", {
      key: viewer.key,
      json: { model: "m", messages: [] },
      headers: { "x-request-id": `req-403-${kind}` },
    });
    // What the limiter and budget code record.
    gw.audit.record({
      action: "limits.rate",
      outcome: "denied",
      actor: viewer.id,
      team: "search",
      target: "POST /v1/chat/completions",
      status: 429,
      reason: "rate_limit_exceeded",
      details: { limit: "requests", rpm: 1 },
    });

    const audit = await call<{ data: Record<string, unknown>[] }>(gw.url, "/v1/admin/audit?limit=1000", {
      key: ADMIN_KEY,
    });
    expect(audit.status).toBe(200);
    const byRequest = (id: string) => audit.body.data.find((e) => e.request_id === id);
    expect(byRequest(`req-create-${kind}`)).toMatchObject({
      action: "keys.create",
      actor: "admin",
      team: "default",
      target: created.body.id,
      outcome: "success",
      status: 201,
      source_ip: "127.0.0.1",
    });
    expect(byRequest(`req-bad-${kind}`)).toMatchObject({
      action: "auth.unauthenticated",
      actor: "AAAAAAAAAAAA",
      target: "GET /v1/models",
      outcome: "denied",
      status: 401,
      reason: "invalid_api_key",
    });
    expect(byRequest(`req-none-${kind}`)).toMatchObject({
      actor: "",
      reason: "missing_api_key",
      status: 401,
    });
    expect(byRequest(`req-403-${kind}`)).toMatchObject({
      action: "auth.forbidden",
      actor: viewer.id,
      team: "search",
      reason: "insufficient_permissions",
      status: 403,
    });
    expect(audit.body.data.find((e) => e.action === "limits.rate")).toMatchObject({
      actor: viewer.id,
      details: { limit: "requests", rpm: 1 },
    });
    expect(JSON.stringify(audit.body)).not.toContain("b".repeat(43));
  });

  it("filters the audit log by action, time and count, for admins only", async () => {
    const q = (query: string) =>
      call<{ data: { action: string; at: string }[] }>(gw.url, `/v1/admin/audit?${query}`, {
        key: ADMIN_KEY,
      });
    const creates = await q("action=keys.create");
    expect(creates.body.data.length).toBeGreaterThan(0);
    expect(new Set(creates.body.data.map((e) => e.action))).toEqual(new Set(["keys.create"]));
    const auth = await q("action=auth.*");
    expect(new Set(auth.body.data.map((e) => e.action))).toEqual(
      new Set(["auth.unauthenticated", "auth.forbidden"]),
    );
    expect((await q("limit=2")).body.data).toHaveLength(2);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await q(`from=${encodeURIComponent(future)}`)).body.data).toEqual([]);
    const all = (await q("limit=1000")).body.data;
    const times = all.map((e) => e.at);
    expect(times).toEqual([...times].sort().reverse());
    expect((await q("limit=0")).status).toBe(400);
    const viewer = await createKey(gw.url, { name: "v2", team: "search", role: "viewer" });
    expect((await call(gw.url, "/v1/admin/audit", { key: viewer.key })).status).toBe(403);
  });
});
