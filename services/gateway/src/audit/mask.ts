// Every quantifier is bounded or anchored on a literal, so masking a multi-megabyte prompt stays linear.
const API_KEY = /\bsk-[A-Za-z0-9_-]{8,}/g;
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+/g;
const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}/g;
const PHONE = /(?<![\w+])\+?\d[\d\s().-]{6,24}\d(?!\w)/g;

/** A phone number has 9 to 15 digits (E.164's maximum); longer or shorter runs are other numbers. */
function maskPhone(candidate: string): string {
  const digits = candidate.replace(/\D/g, "").length;
  return digits >= 9 && digits <= 15 ? "[phone]" : candidate;
}

/** Masks API keys (`sk-…`), JWTs, email addresses and phone numbers in free text. */
export function maskSensitive(text: string): string {
  return text
    .replace(API_KEY, "sk-[redacted]")
    .replace(JWT, "[jwt]")
    .replace(EMAIL, "[email]")
    .replace(PHONE, maskPhone);
}

const MAX_DEPTH = 32;

/** Last words of field names whose value is a credential whatever it looks like. */
const SECRET_WORDS = new Set([
  "key",
  "secret",
  "token",
  "password",
  "passwd",
  "authorization",
  "credentials",
]);

/** `api_key`, `apiKey`, `client-secret`, `access_token`, `password` — not `max_tokens` or `keyId`. */
function isSecretField(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return SECRET_WORDS.has(words.at(-1) ?? "");
}

/**
 * `maskSensitive` over every string (keys included) of a JSON-like value; the whole value of a
 * field named like a credential is redacted.
 */
export function maskDeep(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return maskSensitive(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[truncated]";
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      maskSensitive(k),
      isSecretField(k) && v !== null && v !== undefined ? "[redacted]" : maskDeep(v, depth + 1),
    ]),
  );
}
