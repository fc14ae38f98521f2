import { jest } from "@jest/globals";
import type { Db } from "@sloughgpt/db";
import { openGatewayDatabase } from "../src/database.js";
import type { RouteDeclaration } from "../src/http/rbac.js";
import { can, ROLES, type Role } from "../src/identity/permissions.js";
import { ADMIN_KEY, call, createKey, startGateway, type TestGateway } from "./helpers.js";

jest.setTimeout(60_000);

type Caller = { name: string; key: string | undefined; role?: Role; refusal?: string };

let db: Db;
let gw: TestGateway;
const callers: Caller[] = [];

// The real app, real authentication and a real (embedded) key store; upstream services are absent,
// so permitted requests end in 4xx/5xx from validation or the missing upstream, never in 401/403.
beforeAll(async () => {
  db = await openGatewayDatabase();
  gw = await startGateway({ db });
  for (const role of ROLES) {
    const key = role === "admin" ? ADMIN_KEY : (await createKey(gw.url, { name: role, team: "t", role })).key;
    callers.push({ name: role, key, role });
    if (role === "admin") {
      const issued = await createKey(gw.url, { name: "issued-admin", team: "t", role });
      callers.push({ name: "issued admin", key: issued.key, role });
    }
  }
  const revoked = await createKey(gw.url, { name: "revoked", team: "t", role: "admin" });
  await call(gw.url, `/v1/admin/keys/${revoked.id}`, { key: ADMIN_KEY, method: "DELETE" });
  const expired = await createKey(gw.url, { name: "expired", team: "t", role: "admin" });
  await db.query("UPDATE gateway.api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1", [
    expired.id,
  ]);
  gw.directory.evictKey(expired.id);
  callers.push(
    { name: "no key", key: undefined, refusal: "missing_api_key" },
    { name: "bad key", key: `sk-sg-${"Z".repeat(12)}_${"z".repeat(43)}`, refusal: "invalid_api_key" },
    { name: "revoked key", key: revoked.key, refusal: "revoked_api_key" },
    { name: "expired key", key: expired.key, refusal: "expired_api_key" },
  );
});

afterAll(async () => {
  await gw?.close();
  await db?.close();
});

const concretePath = (url: string) => url.replace(/:[a-z_]+/gi, "x").replace("*", "x");

function expected(route: RouteDeclaration, c: Caller): string {
  if (c.refusal) return `401 ${c.refusal}`;
  return can(c.role as Role, route.permission) ? "allowed" : "403 insufficient_permissions";
}

/** "allowed", or the refusal's status and error code (a HEAD answer has no body: status only). */
async function actual(route: RouteDeclaration, c: Caller): Promise<string> {
  const hasBody = route.method === "POST" || route.method === "PUT";
  const res = await fetch(`${gw.url}${concretePath(route.url)}`, {
    method: route.method,
    headers: {
      ...(c.key ? { authorization: `Bearer ${c.key}` } : {}),
      ...(hasBody ? { "content-type": "application/json" } : {}),
    },
    ...(hasBody ? { body: "{}" } : {}),
  });
  const text = await res.text();
  if (res.status !== 401 && res.status !== 403) return "allowed";
  if (route.method === "HEAD") return String(res.status);
  return `${res.status} ${(JSON.parse(text) as { error: { code: string } }).error.code}`;
}

describe("every route × every caller", () => {
  it("covers every route the gateway serves", () => {
    const routes = gw.app.routePermissions.map((r) => `${r.method} ${r.url}`);
    expect(routes).toEqual(
      expect.arrayContaining([
        "POST /v1/chat/completions",
        "POST /v1/completions",
        "POST /v1/embeddings",
        "GET /v1/models",
        "GET /v1/models/:id",
        "POST /v1/rag/collections",
        "POST /v1/rag/collections/:name/documents",
        "POST /v1/rag/collections/:name/search",
        "POST /v1/reasoning/solve",
        "POST /v1/training/jobs",
        "GET /v1/training/jobs",
        "GET /v1/training/jobs/:name",
        "GET /v1/training/jobs/:name/logs",
        "GET /v1/status",
        "GET /v1/admin/models",
        "POST /v1/admin/models",
        "DELETE /v1/admin/models/*",
        "POST /v1/admin/keys",
        "GET /v1/admin/keys",
        "DELETE /v1/admin/keys/:id",
        "POST /v1/admin/teams",
        "GET /v1/admin/teams",
        "GET /v1/admin/audit",
      ]),
    );
  });

  it("answers 401 for key problems, 403 for a missing permission, and neither otherwise", async () => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const route of gw.app.routePermissions) {
      for (const c of callers) {
        const full = expected(route, c);
        const want = route.method === "HEAD" && full !== "allowed" ? (full.split(" ")[0] as string) : full;
        const got = await actual(route, c);
        checked++;
        if (got !== want)
          mismatches.push(`${route.method} ${route.url} as ${c.name}: want ${want}, got ${got}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(22 * callers.length);
  });
});
