import { PermissionDeniedError, UnauthenticatedError, UnavailableError } from "@sloughgpt/runtime";
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { type Role, strongestRole } from "./permissions.js";

export interface OidcOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  /** Claim holding the role (a string or an array of strings); dots name nested claims. */
  roleClaim: string;
  /** Claim holding the team; dots name nested claims. */
  teamClaim: string;
  /** JWKS HTTP timeout. */
  timeoutMs?: number;
}

export interface OidcIdentity {
  subject: string;
  role: Role;
  team: string;
}

export type OidcVerifier = (token: string) => Promise<OidcIdentity>;

/** `a.b.c` inside a claims object; undefined when any step is missing. */
export function claimAt(payload: Record<string, unknown>, path: string): unknown {
  let value: unknown = payload;
  for (const part of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The identity a verified token's claims grant, or why they grant none. */
export function identityFromClaims(
  payload: JWTPayload,
  opts: Pick<OidcOptions, "roleClaim" | "teamClaim">,
): OidcIdentity {
  const roleValue = claimAt(payload, opts.roleClaim);
  const role = strongestRole(Array.isArray(roleValue) ? roleValue : [roleValue]);
  if (!role) {
    throw new PermissionDeniedError(`The token's '${opts.roleClaim}' claim names no SloughGPT role`, {
      reason: "insufficient_permissions",
    });
  }
  const team = claimAt(payload, opts.teamClaim);
  if (typeof team !== "string" || team === "") {
    throw new PermissionDeniedError(`The token has no '${opts.teamClaim}' claim naming a team`, {
      reason: "insufficient_permissions",
    });
  }
  return { subject: payload.sub ?? "", role, team };
}

/** A JWT (three base64url parts, a JSON header) rather than an API key. */
export function looksLikeJwt(token: string): boolean {
  return token.startsWith("eyJ") && token.split(".").length === 3;
}

function toAuthError(err: unknown): Error {
  if (err instanceof errors.JWTExpired) {
    return new UnauthenticatedError("The bearer token has expired", { reason: "expired_api_key" });
  }
  // Timeouts, refused connections and bad JWKS responses: the identity provider, not the token.
  if (
    !(err instanceof errors.JOSEError) ||
    err.code === "ERR_JWKS_TIMEOUT" ||
    err.code === "ERR_JOSE_GENERIC"
  ) {
    return new UnavailableError("The identity provider's key set could not be fetched", { cause: err });
  }
  return new UnauthenticatedError("Invalid bearer token", { reason: "invalid_api_key", cause: err });
}

/**
 * Verifies OIDC/JWT bearer tokens against the issuer's JWKS (fetched over HTTP and cached by
 * jose; an unknown `kid` refetches it, so key rotation needs no restart).
 */
export function createOidcVerifier(opts: OidcOptions, keys?: JWTVerifyGetKey): OidcVerifier {
  const jwks = keys ?? createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: opts.timeoutMs ?? 5000 });
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: opts.audience,
        clockTolerance: 5,
        // A token without a subject would merge its holders into one identity; one without an
        // expiry would never expire.
        requiredClaims: ["sub", "exp"],
      }));
    } catch (err) {
      throw toAuthError(err);
    }
    return identityFromClaims(payload, opts);
  };
}
