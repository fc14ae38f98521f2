import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { jest } from "@jest/globals";
import type { Db } from "@sloughgpt/db";
import { createTestDatabase, type TestDatabase } from "@sloughgpt/testing";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { openGatewayDatabase } from "../src/database.js";
import { createOidcVerifier } from "../src/identity/oidc.js";
import { ADMIN_KEY, call, startGateway, type TestGateway } from "./helpers.js";

jest.setTimeout(60_000);

const ISSUER = "https://idp.test";
const AUDIENCE = "sloughgpt-gateway";

/** A JWKS endpoint over real HTTP, as an identity provider serves it. */
async function serveJwks(keys: JWK[]): Promise<{ url: string; server: Server; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    if (req.url !== "/.well-known/jwks.json") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, server, requests: () => requests };
}

let pg: TestDatabase;
let db: Db;
let gw: TestGateway;
let jwks: Awaited<ReturnType<typeof serveJwks>>;
let sign: (
  claims: Record<string, unknown>,
  opts?: { aud?: string; expSeconds?: number; noSubject?: boolean; noExpiry?: boolean },
) => Promise<string>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS256");
  jwks = await serveJwks([{ ...(await exportJWK(publicKey)), kid: "idp-1", alg: "RS256", use: "sig" }]);
  sign = (claims, opts = {}) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
      .setIssuer(ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setIssuedAt();
    if (!opts.noSubject) jwt.setSubject("alice@idp");
    if (!opts.noExpiry) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSeconds ?? 300));
    return jwt.sign(privateKey);
  };
  pg = await createTestDatabase();
  db = await openGatewayDatabase({ url: pg.url });
  gw = await startGateway({
    db,
    oidc: createOidcVerifier({
      jwksUrl: jwks.url,
      issuer: ISSUER,
      audience: AUDIENCE,
      roleClaim: "groups",
      teamClaim: "org.team",
    }),
    extendApp: (app) =>
      app.get("/whoami", { config: { permission: "models:read" } }, async (r) => r.principal),
  });
});

afterAll(async () => {
  await gw?.close();
  await db?.close();
  await pg?.drop();
  await new Promise((r) => jwks?.server.close(r));
});

describe("OIDC bearer tokens verified against a JWKS over HTTP", () => {
  it("authenticates a token with the role and team its claims name", async () => {
    const token = await sign({ groups: ["staff", "ml-engineer"], org: { team: "vision" } });
    const res = await call(gw.url, "/whoami", { key: token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      keyId: "oidc:alice@idp",
      subject: "alice@idp",
      via: "oidc",
      role: "ml-engineer",
      team: "vision",
      models: null,
    });
    expect(jwks.requests()).toBeGreaterThanOrEqual(1);
  });

  it("applies the role's permissions", async () => {
    const viewer = await sign({ groups: ["viewer"], org: { team: "vision" } });
    expect((await call(gw.url, "/v1/status", { key: viewer })).status).toBe(503);
    const chat = await call(gw.url, "/v1/chat/completions", {
      key: viewer,
      json: { model: "m", messages: [] },
    });
    expect(chat.status).toBe(403);
    expect(chat.body.error?.code).toBe("insufficient_permissions");
    const admin = await sign({ groups: ["admin"], org: { team: "ops" } });
    expect((await call(gw.url, "/v1/admin/keys", { key: admin })).status).toBe(200);
  });

  it.each([
    [
      "an expired token",
      () => sign({ groups: ["admin"], org: { team: "a" } }, { expSeconds: -60 }),
      401,
      "expired_api_key",
    ],
    [
      "a token for another audience",
      () => sign({ groups: ["admin"], org: { team: "a" } }, { aud: "x" }),
      401,
      "invalid_api_key",
    ],
    [
      "a tampered token",
      async () => `${(await sign({ groups: ["viewer"], org: { team: "a" } })).slice(0, -4)}AAAA`,
      401,
      "invalid_api_key",
    ],
    [
      "a token without a known role",
      () => sign({ groups: ["staff"], org: { team: "a" } }),
      403,
      "insufficient_permissions",
    ],
    ["a token without a team", () => sign({ groups: ["admin"] }), 403, "insufficient_permissions"],
    [
      "a token without a subject",
      () => sign({ groups: ["admin"], org: { team: "a" } }, { noSubject: true }),
      401,
      "invalid_api_key",
    ],
    [
      "a token that never expires",
      () => sign({ groups: ["admin"], org: { team: "a" } }, { noExpiry: true }),
      401,
      "invalid_api_key",
    ],
  ])("refuses %s", async (_what, token, status, code) => {
    const res = await call(gw.url, "/whoami", { key: await token() });
    expect(res.status).toBe(status);
    expect(res.body.error?.code).toBe(code);
  });

  it("keeps accepting API keys and the bootstrap key next to tokens", async () => {
    expect((await call(gw.url, "/whoami", { key: ADMIN_KEY })).body).toMatchObject({ via: "bootstrap" });
    expect((await call(gw.url, "/whoami", { key: "sk-sg-nope" })).status).toBe(401);
  });

  it("answers 503 when the identity provider's JWKS cannot be fetched", async () => {
    const dead = createOidcVerifier({
      jwksUrl: "http://127.0.0.1:9/jwks.json",
      issuer: ISSUER,
      audience: AUDIENCE,
      roleClaim: "groups",
      teamClaim: "org.team",
    });
    await expect(dead(await sign({ groups: ["admin"], org: { team: "a" } }))).rejects.toMatchObject({
      name: "UnavailableError",
    });
  });
});
