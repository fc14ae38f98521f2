import { UnauthenticatedError, UnavailableError } from "@sloughgpt/runtime";
import type { KeyLookup } from "../identity/directory.js";
import { parseApiKey, safeEqual, UNKNOWN_KEY, verifySecret } from "../identity/keys.js";
import { looksLikeJwt, type OidcVerifier } from "../identity/oidc.js";
import type { Role } from "../identity/permissions.js";
import { type Limits, NO_LIMITS, type StoredKey } from "../identity/types.js";

/** Who is calling, as every route and the limiter see it. */
export interface Principal {
  /** The API key's id; `admin` for the bootstrap key; `oidc:<subject>` for a bearer token. */
  keyId: string;
  /** Who, for the audit log: the key id, or the token's subject. */
  subject: string;
  via: "bootstrap" | "api_key" | "oidc";
  /** Data routes act for this team only. */
  team: string;
  role: Role;
  /** Models this caller may use; `null` allows every model. */
  models: readonly string[] | null;
  /** The key's own limits (none for the bootstrap key and tokens). */
  limits: Limits;
  /** The team's limits, shared by all its keys. */
  teamLimits: Limits;
}

export type Authenticate = (authorization: string | undefined) => Promise<Principal>;

/** A refused credential; names the key id it claimed (not secret) for the audit log. */
export class AuthenticationError extends UnauthenticatedError {
  constructor(
    message: string,
    reason: "missing_api_key" | "invalid_api_key" | "expired_api_key" | "revoked_api_key",
    readonly claimedKeyId?: string,
  ) {
    super(message, { reason });
  }
}

export interface AuthOptions {
  /** The bootstrap admin key (`SLOUGHGPT_ADMIN_KEY`): role admin, team "default". */
  adminKey: string;
  /** Issued API keys; without it only the bootstrap key (and tokens) authenticate. */
  keys?: KeyLookup;
  /** Verifies OIDC/JWT bearer tokens when configured. */
  oidc?: OidcVerifier;
  now?: () => number;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The key store being down is the platform's problem (503), not the caller's (401). */
async function fromStore<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (err) {
    throw new UnavailableError("API keys cannot be checked right now; retry shortly", { cause: err });
  }
}

function invalid(claimedKeyId?: string): AuthenticationError {
  return new AuthenticationError("Incorrect API key provided", "invalid_api_key", claimedKeyId);
}

/**
 * Bearer authentication: the bootstrap admin key, issued `sk-sg-…` keys, or OIDC tokens.
 *
 * Timing: the bootstrap key is compared as a fixed-size digest in constant time. An issued key
 * is looked up by its id (cached; unknown ids are cached too) and its secret's hash compared in
 * constant time, against a stand-in row when the id is unknown, so a wrong secret and an unknown
 * id cost the same. Revoked and expired are reported only once the secret has matched: without
 * the secret nothing about a key's state is revealed.
 */
export function createAuthenticator(opts: AuthOptions | string): Authenticate {
  const o: AuthOptions = typeof opts === "string" ? { adminKey: opts } : opts;
  const now = o.now ?? Date.now;
  const teamLimits = (team: string) =>
    o.keys ? fromStore(o.keys.teamLimits(team)) : Promise.resolve(NO_LIMITS);

  const fromKey = async (token: string): Promise<Principal> => {
    const parsed = parseApiKey(token);
    if (!parsed || !o.keys) throw invalid();
    const row = await fromStore(o.keys.findKey(parsed.id));
    const matches = verifySecret(parsed.secret, row?.salt ?? UNKNOWN_KEY.salt, row?.hash ?? UNKNOWN_KEY.hash);
    if (!row || !matches) throw invalid(parsed.id);
    checkUsable(row, now());
    return {
      keyId: row.id,
      subject: row.id,
      via: "api_key",
      team: row.team,
      role: row.role,
      models: row.models,
      limits: row.limits,
      teamLimits: row.teamLimits,
    };
  };

  const fromToken = async (verify: OidcVerifier, token: string): Promise<Principal> => {
    const id = await verify(token);
    return {
      keyId: `oidc:${id.subject}`,
      subject: id.subject,
      via: "oidc",
      team: id.team,
      role: id.role,
      models: null,
      limits: NO_LIMITS,
      teamLimits: await teamLimits(id.team),
    };
  };

  return async (authorization) => {
    const token = BEARER.exec(authorization ?? "")?.[1];
    if (!token) {
      throw new AuthenticationError("Missing API key: send 'Authorization: Bearer <key>'", "missing_api_key");
    }
    if (safeEqual(token, o.adminKey)) {
      return {
        keyId: "admin",
        subject: "admin",
        via: "bootstrap",
        team: "default",
        role: "admin",
        models: null,
        limits: NO_LIMITS,
        teamLimits: await teamLimits("default"),
      };
    }
    if (o.oidc && looksLikeJwt(token)) return fromToken(o.oidc, token);
    return fromKey(token);
  };
}

function checkUsable(row: StoredKey, nowMs: number): void {
  if (row.revokedAt) {
    throw new AuthenticationError("This API key has been revoked", "revoked_api_key", row.id);
  }
  if (row.expiresAt && row.expiresAt.getTime() <= nowMs) {
    throw new AuthenticationError("This API key has expired", "expired_api_key", row.id);
  }
}
