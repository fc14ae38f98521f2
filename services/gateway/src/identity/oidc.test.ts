import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from "jose";
import { claimAt, createOidcVerifier, identityFromClaims, looksLikeJwt } from "./oidc.js";

const opts = { roleClaim: "role", teamClaim: "team" };

describe("claims", () => {
  it("reads nested claims by dotted path", () => {
    const p = { realm_access: { roles: ["viewer", "admin"] }, team: "a" };
    expect(claimAt(p, "realm_access.roles")).toEqual(["viewer", "admin"]);
    expect(claimAt(p, "team.x")).toBeUndefined();
    expect(claimAt(p, "missing.deep")).toBeUndefined();
  });

  it("maps claims to an identity, taking the strongest known role", () => {
    expect(identityFromClaims({ sub: "u1", role: "consumer", team: "a" }, opts)).toEqual({
      subject: "u1",
      role: "consumer",
      team: "a",
    });
    expect(
      identityFromClaims(
        { sub: "u2", groups: ["x", "viewer", "ml-engineer"], org: { team: "b" } },
        {
          roleClaim: "groups",
          teamClaim: "org.team",
        },
      ),
    ).toMatchObject({ role: "ml-engineer", team: "b" });
  });

  it.each([
    [{ sub: "u", team: "a" }, /no SloughGPT role/],
    [{ sub: "u", role: "root", team: "a" }, /no SloughGPT role/],
    [{ sub: "u", role: "viewer" }, /no 'team' claim/],
    [{ sub: "u", role: "viewer", team: "" }, /no 'team' claim/],
  ])("refuses %j with 403 insufficient_permissions", (claims, message) => {
    expect(() => identityFromClaims(claims, opts)).toThrow(message);
    try {
      identityFromClaims(claims, opts);
    } catch (err) {
      expect(err).toMatchObject({ reason: "insufficient_permissions" });
    }
  });

  it("tells a JWT from an API key", () => {
    expect(looksLikeJwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig")).toBe(true);
    expect(looksLikeJwt("sk-sg-abc_def")).toBe(false);
  });
});

describe("createOidcVerifier", () => {
  const issuer = "https://idp.example";
  const audience = "sloughgpt";

  async function setup() {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const verify = createOidcVerifier(
      { jwksUrl: "https://unused.example/jwks", issuer, audience, ...opts },
      createLocalJWKSet({ keys: [jwk] }),
    );
    const sign = (claims: Record<string, unknown>, over: { aud?: string; iss?: string; exp?: number } = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(over.iss ?? issuer)
        .setAudience(over.aud ?? audience)
        .setSubject("user-1")
        .setIssuedAt()
        .setExpirationTime(over.exp ?? Math.floor(Date.now() / 1000) + 300)
        .sign(privateKey);
    return { verify, sign };
  }

  it("verifies a token and maps its claims", async () => {
    const { verify, sign } = await setup();
    expect(await verify(await sign({ role: "viewer", team: "a" }))).toEqual({
      subject: "user-1",
      role: "viewer",
      team: "a",
    });
  });

  it.each([
    ["expired", { exp: Math.floor(Date.now() / 1000) - 60 }, "expired_api_key"],
    ["for another audience", { aud: "other-app" }, "invalid_api_key"],
    ["from another issuer", { iss: "https://evil.example" }, "invalid_api_key"],
  ])("refuses a token %s", async (_what, over, reason) => {
    const { verify, sign } = await setup();
    await expect(verify(await sign({ role: "admin", team: "a" }, over))).rejects.toMatchObject({ reason });
  });

  it("refuses a token signed by another key", async () => {
    const { verify } = await setup();
    const other = await generateKeyPair("ES256");
    const forged = await new SignJWT({ role: "admin", team: "a" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime("5m")
      .sign(other.privateKey);
    await expect(verify(forged)).rejects.toMatchObject({ reason: "invalid_api_key" });
  });
});
