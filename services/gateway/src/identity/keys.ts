import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/**
 * API key format: `sk-sg-<id>_<secret>`, both base62. The id (12 characters) is not secret: it
 * names the stored row, so verifying a key is one indexed lookup, never a scan over all keys.
 * The secret (43 characters, 256 bits from the CSPRNG) is never stored, only its hash.
 */
export const KEY_PREFIX = "sk-sg-";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const ID_LENGTH = 12;
export const SECRET_LENGTH = 43;
const KEY_PATTERN = new RegExp(`^${KEY_PREFIX}([0-9A-Za-z]{${ID_LENGTH}})_([0-9A-Za-z]{${SECRET_LENGTH}})$`);

/** Uniformly random base62 (randomInt rejects biased draws, unlike `byte % 62`). */
function base62(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export interface GeneratedKey {
  id: string;
  secret: string;
  /** What the caller is shown once. */
  key: string;
}

export function generateApiKey(): GeneratedKey {
  const id = base62(ID_LENGTH);
  const secret = base62(SECRET_LENGTH);
  return { id, secret, key: `${KEY_PREFIX}${id}_${secret}` };
}

export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = KEY_PATTERN.exec(key);
  return m?.[1] && m[2] ? { id: m[1], secret: m[2] } : undefined;
}

/**
 * Keyed hash: HMAC-SHA-256 of the secret under a random per-key salt, hex.
 *
 * Why not scrypt: slow KDFs protect low-entropy passwords from offline guessing. These secrets
 * are 256 random bits, so guessing is infeasible at any hash speed, and a slow hash would only
 * let anyone burn ~50 ms of gateway CPU per made-up key (every cache miss must hash, found or
 * not, to keep timing flat). The salt keeps equal secrets from ever sharing a hash.
 */
export function hashSecret(secret: string, salt: string): string {
  return createHmac("sha256", Buffer.from(salt, "hex")).update(secret).digest("hex");
}

export function newSalt(): string {
  return randomBytes(16).toString("hex");
}

/** Constant-time comparison of the secret's hash with the stored one. */
export function verifySecret(secret: string, salt: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret, salt), "hex");
  const expected = Buffer.from(storedHash, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Stands in for a row when a key id is unknown, so an unknown id costs the same hash and
 * comparison as a known one with a wrong secret. It matches no secret.
 */
export const UNKNOWN_KEY = { salt: newSalt(), hash: randomBytes(32).toString("hex") };

/** Constant-time equality of two strings of any length (compares fixed-size digests). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
