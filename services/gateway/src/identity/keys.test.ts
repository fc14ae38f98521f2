import fc from "fast-check";
import {
  generateApiKey,
  hashSecret,
  ID_LENGTH,
  newSalt,
  parseApiKey,
  SECRET_LENGTH,
  safeEqual,
  UNKNOWN_KEY,
  verifySecret,
} from "./keys.js";

describe("API key format", () => {
  it("is sk-sg-<12 base62 id>_<43 base62 secret>, at least 256 bits of secret", () => {
    const { id, secret, key } = generateApiKey();
    expect(key).toMatch(/^sk-sg-[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$/);
    expect(key).toBe(`sk-sg-${id}_${secret}`);
    expect(SECRET_LENGTH * Math.log2(62)).toBeGreaterThanOrEqual(256);
    expect(ID_LENGTH).toBe(12);
  });

  it("never repeats and uses the whole alphabet", () => {
    const keys = Array.from({ length: 2000 }, () => generateApiKey());
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.id)).size).toBe(keys.length);
    const chars = new Set(keys.flatMap((k) => [...k.secret]));
    expect(chars.size).toBe(62);
  });

  it("parses what it generates", () => {
    const k = generateApiKey();
    expect(parseApiKey(k.key)).toEqual({ id: k.id, secret: k.secret });
  });

  it.each([
    "",
    "sk-sg-",
    "sk-sg-short_secret",
    `sk-sg-${"a".repeat(12)}_${"b".repeat(42)}`,
    `sk-sg-${"a".repeat(12)}_${"b".repeat(44)}`,
    `sk-sg-${"a".repeat(12)}-${"b".repeat(43)}`,
    `sk-xx-${"a".repeat(12)}_${"b".repeat(43)}`,
    ` sk-sg-${"a".repeat(12)}_${"b".repeat(43)}`,
    `sk-sg-${"a".repeat(11)}!_${"b".repeat(43)}`,
  ])("refuses the malformed key %j", (key) => {
    expect(parseApiKey(key)).toBeUndefined();
  });

  it("accepts only well-formed keys, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const parsed = parseApiKey(s);
        if (parsed) expect(s).toBe(`sk-sg-${parsed.id}_${parsed.secret}`);
      }),
    );
  });
});

describe("secret hashing", () => {
  it("verifies the right secret and refuses any other", () => {
    const { secret } = generateApiKey();
    const salt = newSalt();
    const hash = hashSecret(secret, salt);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hash).not.toContain(secret);
    expect(verifySecret(secret, salt, hash)).toBe(true);
    const other = secret.endsWith("x") ? "y" : "x";
    expect(verifySecret(`${secret.slice(0, -1)}${other}`, salt, hash)).toBe(false);
    expect(verifySecret(secret, newSalt(), hash)).toBe(false);
  });

  it("gives the same secret a different hash under another salt", () => {
    const { secret } = generateApiKey();
    expect(hashSecret(secret, newSalt())).not.toBe(hashSecret(secret, newSalt()));
  });

  it("refuses a stored hash of the wrong length instead of throwing", () => {
    const salt = newSalt();
    expect(verifySecret("s", salt, "abcd")).toBe(false);
  });

  it("matches no secret against the stand-in for an unknown key", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60 }), (s) => {
        expect(verifySecret(s, UNKNOWN_KEY.salt, UNKNOWN_KEY.hash)).toBe(false);
      }),
    );
  });

  it("compares strings of any length", () => {
    expect(safeEqual("admin-key-0123456789", "admin-key-0123456789")).toBe(true);
    expect(safeEqual("admin-key-0123456789", "admin-key-012345678")).toBe(false);
    expect(safeEqual("", "x")).toBe(false);
  });
});
