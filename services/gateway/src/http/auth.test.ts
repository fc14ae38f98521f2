import type { KeyLookup } from "../identity/directory.js";
import { generateApiKey, hashSecret, newSalt } from "../identity/keys.js";
import { NO_LIMITS, type StoredKey } from "../identity/types.js";
import { AuthenticationError, createAuthenticator } from "./auth.js";

const ADMIN = "sk-sg-bootstrap-admin-key-0123";
const NOW = Date.parse("2025-06-01T00:00:00Z");

function issue(over: Partial<StoredKey> = {}) {
  const g = generateApiKey();
  const salt = newSalt();
  const row: StoredKey = {
    id: g.id,
    name: "ci",
    team: "search",
    role: "consumer",
    models: null,
    limits: { rpm: 60, tpm: null, budgetUsd: 5, budgetPeriod: "daily" },
    teamLimits: { rpm: 600, tpm: 100_000, budgetUsd: null, budgetPeriod: null },
    expiresAt: null,
    revokedAt: null,
    createdAt: new Date(NOW - 1000),
    createdBy: "admin",
    salt,
    hash: hashSecret(g.secret, salt),
    ...over,
  };
  return { key: g.key, row };
}

/** An in-memory key table behind the same interface the cached Postgres directory offers. */
function lookup(rows: StoredKey[]): KeyLookup & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    findKey: async (id) => {
      lookups.push(id);
      return rows.find((r) => r.id === id) ?? null;
    },
    teamLimits: async () => ({ ...NO_LIMITS, rpm: 1000 }),
  };
}

async function refusal(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AuthenticationError);
  const e = err as AuthenticationError;
  return { reason: e.reason, claimed: e.claimedKeyId };
}

describe("createAuthenticator", () => {
  const good = issue();
  const revoked = issue({ revokedAt: new Date(NOW - 10) });
  const expired = issue({ expiresAt: new Date(NOW) });
  const keys = lookup([good.row, revoked.row, expired.row]);
  const auth = createAuthenticator({ adminKey: ADMIN, keys, now: () => NOW });

  it("accepts the bootstrap key as admin of team default, with that team's limits", async () => {
    expect(await auth(`Bearer ${ADMIN}`)).toMatchObject({
      keyId: "admin",
      via: "bootstrap",
      role: "admin",
      team: "default",
      teamLimits: { rpm: 1000 },
    });
  });

  it("accepts an issued key with its role, team, models and limits", async () => {
    expect(await auth(`Bearer ${good.key}`)).toEqual({
      keyId: good.row.id,
      subject: good.row.id,
      via: "api_key",
      team: "search",
      role: "consumer",
      models: null,
      limits: good.row.limits,
      teamLimits: good.row.teamLimits,
    });
  });

  it.each([
    [undefined, "missing_api_key"],
    ["", "missing_api_key"],
    ["Basic abc", "missing_api_key"],
    ["Bearer ", "missing_api_key"],
    ["Bearer not-a-key", "invalid_api_key"],
    ["Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "invalid_api_key"],
  ])("refuses %j as %s", async (header, reason) => {
    expect((await refusal(auth(header))).reason).toBe(reason);
  });

  it("refuses an unknown key id and a wrong secret alike, naming the claimed id", async () => {
    const unknown = generateApiKey();
    const wrongSecret = `sk-sg-${good.row.id}_${generateApiKey().secret}`;
    expect(await refusal(auth(`Bearer ${unknown.key}`))).toEqual({
      reason: "invalid_api_key",
      claimed: unknown.id,
    });
    expect(await refusal(auth(`Bearer ${wrongSecret}`))).toEqual({
      reason: "invalid_api_key",
      claimed: good.row.id,
    });
  });

  it("says revoked or expired only to the holder of the secret", async () => {
    expect((await refusal(auth(`Bearer ${revoked.key}`))).reason).toBe("revoked_api_key");
    expect((await refusal(auth(`Bearer ${expired.key}`))).reason).toBe("expired_api_key");
    const guess = `sk-sg-${revoked.row.id}_${generateApiKey().secret}`;
    expect((await refusal(auth(`Bearer ${guess}`))).reason).toBe("invalid_api_key");
  });

  it("looks a key up by its id only", async () => {
    keys.lookups.length = 0;
    await auth(`Bearer ${good.key}`);
    expect(keys.lookups).toEqual([good.row.id]);
  });

  it("knows only the bootstrap key without a key store", async () => {
    const bootstrapOnly = createAuthenticator(ADMIN);
    expect((await bootstrapOnly(`Bearer ${ADMIN}`)).role).toBe("admin");
    expect((await refusal(bootstrapOnly(`Bearer ${good.key}`))).reason).toBe("invalid_api_key");
  });
});

describe("createAuthenticator with the key store down", () => {
  it("answers 503 (UNAVAILABLE), not 401, so clients retry instead of discarding their key", async () => {
    const down: KeyLookup = {
      findKey: () => Promise.reject(new Error("connection refused")),
      teamLimits: () => Promise.reject(new Error("connection refused")),
    };
    const auth = createAuthenticator({ adminKey: ADMIN, keys: down });
    await expect(auth(`Bearer ${generateApiKey().key}`)).rejects.toMatchObject({ name: "UnavailableError" });
    await expect(auth(`Bearer ${ADMIN}`)).rejects.toMatchObject({ name: "UnavailableError" });
  });
});
