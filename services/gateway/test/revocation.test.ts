import { jest } from "@jest/globals";
import { type Bus, connectBus } from "@sloughgpt/bus";
import type { Db } from "@sloughgpt/db";
import { createLogger } from "@sloughgpt/runtime";
import { createTestDatabase, DEFAULT_NATS_URL, type TestDatabase, testNamespace } from "@sloughgpt/testing";
import { openGatewayDatabase } from "../src/database.js";
import { ADMIN_KEY, call, createKey, startGateway, type TestGateway } from "./helpers.js";

jest.setTimeout(60_000);

/** Asks until the answer is a 401, returning how long that took (ms). */
async function msUntilRefused(url: string, key: string, timeoutMs: number) {
  const started = performance.now();
  for (;;) {
    const res = await call(url, "/v1/models", { key });
    if (res.status === 401) return { ms: performance.now() - started, code: res.body.error?.code };
    if (performance.now() - started > timeoutMs) return { ms: Number.POSITIVE_INFINITY, code: undefined };
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Two gateway replicas in one process, one Postgres database, one NATS.
describe("revocation across gateway replicas", () => {
  const logger = createLogger({ service: "test", level: "silent" });
  let pg: TestDatabase;
  let db: Db;
  let buses: Bus[] = [];
  let a: TestGateway;
  let b: TestGateway;
  let lonely: TestGateway;

  beforeAll(async () => {
    pg = await createTestDatabase();
    db = await openGatewayDatabase({ url: pg.url });
    const namespace = testNamespace();
    const bus = (name: string) => connectBus({ url: DEFAULT_NATS_URL, namespace, name, logger });
    buses = [await bus("gateway-a"), await bus("gateway-b")];
    // A long cache TTL on both: only the NATS broadcast can make B refuse within a second.
    a = await startGateway({ db, bus: buses[0], ttlMs: 60_000 });
    b = await startGateway({ db, bus: buses[1], ttlMs: 60_000 });
    // A replica that hears nothing (no NATS): only its cache TTL bounds a revoked key's life.
    lonely = await startGateway({ db, ttlMs: 300 });
  });

  afterAll(async () => {
    for (const g of [a, b, lonely]) await g?.close();
    for (const x of buses) await x.close();
    await db?.close();
    await pg?.drop();
  });

  it("refuses a key on replica B within 1 s of its revocation on replica A", async () => {
    const key = await createKey(a.url, { name: "shared", team: "search", role: "consumer" });
    // B has the key cached (valid) for the next minute.
    expect((await call(b.url, "/v1/models", { key: key.key })).status).toBe(503);
    expect((await call(b.url, "/v1/models", { key: key.key })).status).toBe(503);

    const revoked = await call(a.url, `/v1/admin/keys/${key.id}`, { key: ADMIN_KEY, method: "DELETE" });
    expect(revoked.status).toBe(200);
    const onB = await msUntilRefused(b.url, key.key, 2000);
    expect(onB.code).toBe("revoked_api_key");
    expect(onB.ms).toBeLessThan(1000);
  });

  it("bounds a revoked key's life by the cache TTL on a replica that missed the broadcast", async () => {
    const key = await createKey(a.url, { name: "ttl", team: "search", role: "consumer" });
    expect((await call(lonely.url, "/v1/models", { key: key.key })).status).toBe(503);
    await call(a.url, `/v1/admin/keys/${key.id}`, { key: ADMIN_KEY, method: "DELETE" });
    const refused = await msUntilRefused(lonely.url, key.key, 2000);
    expect(refused.code).toBe("revoked_api_key");
    expect(refused.ms).toBeLessThan(1000);
  });

  it("serves repeated requests from the cache, not from Postgres", async () => {
    const key = await createKey(a.url, { name: "cached", team: "search", role: "consumer" });
    await call(b.url, "/v1/models", { key: key.key });
    const findKey = jest.spyOn(b.identity.store, "findKey");
    for (let i = 0; i < 5; i++) await call(b.url, "/v1/models", { key: key.key });
    expect(findKey).not.toHaveBeenCalled();
    findKey.mockRestore();
  });

  it("tells every replica when a team's limits change", async () => {
    await createKey(a.url, { name: "t", team: "quota", role: "consumer" });
    expect(await b.directory.teamLimits("quota")).toMatchObject({ rpm: null });
    await call(a.url, "/v1/admin/teams", { key: ADMIN_KEY, json: { name: "quota", rpm: 7 } });
    const started = performance.now();
    while ((await b.directory.teamLimits("quota")).rpm !== 7 && performance.now() - started < 2000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await b.directory.teamLimits("quota")).rpm).toBe(7);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
