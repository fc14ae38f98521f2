import { createHash, timingSafeEqual } from "node:crypto";
import { UnauthenticatedError } from "@sloughgpt/runtime";

export interface Principal {
  keyId: string;
  team: string;
  role: "admin";
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Bearer-key authentication. Only the bootstrap admin key exists so far; it acts for
 * team "default". Digests are compared in constant time so timing reveals nothing.
 */
export function createAuthenticator(adminKey: string) {
  const expected = digest(adminKey);
  return (authorization: string | undefined): Principal => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!m?.[1]) {
      throw new UnauthenticatedError("Missing API key: send 'Authorization: Bearer <key>'", {
        reason: "missing_api_key",
      });
    }
    if (!timingSafeEqual(digest(m[1]), expected)) {
      throw new UnauthenticatedError("Incorrect API key provided", { reason: "invalid_api_key" });
    }
    return { keyId: "admin", team: "default", role: "admin" };
  };
}
