import { configSchema } from "./config.js";

const base = { SLOUGHGPT_ADMIN_KEY: "sk-sg-test-key-0123456789" };
const trust = (TRUST_PROXY?: string) => configSchema.parse({ ...base, TRUST_PROXY }).TRUST_PROXY;

describe("gateway config", () => {
  it.each([
    [undefined, false],
    ["false", false],
    ["0", false],
    ["1", 1],
    ["2", 2],
    ["true", true],
    ["10.0.0.0/8, 127.0.0.1", ["10.0.0.0/8", "127.0.0.1"]],
    ["fd00::/8", ["fd00::/8"]],
  ])("reads TRUST_PROXY=%j as %j", (raw, parsed) => {
    expect(trust(raw)).toEqual(parsed);
  });

  it("refuses a TRUST_PROXY that is none of those, naming the variable", () => {
    const r = configSchema.safeParse({ ...base, TRUST_PROXY: "ingress.example" });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["TRUST_PROXY"]);
  });

  it("requires issuer and audience with a JWKS URL", () => {
    const r = configSchema.safeParse({ ...base, OIDC_JWKS_URL: "https://idp.example/jwks" });
    expect(r.error?.issues.map((i) => i.path[0]).sort()).toEqual(["OIDC_AUDIENCE", "OIDC_ISSUER"]);
  });
});
