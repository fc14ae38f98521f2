/** Deeper values are not keyed: no request the service accepts nests this far. */
const MAX_DEPTH = 64;

/**
 * JSON with object members sorted by name and `undefined` members left out, so two values
 * that mean the same encode to the same string whatever order their members were built in.
 * Undefined when the value holds something JSON cannot carry exactly (NaN, Infinity, a bigint,
 * a function, an array hole) or nests deeper than MAX_DEPTH.
 */
export function canonicalJson(value: unknown): string | undefined {
  return encode(value, 0);
}

function encode(value: unknown, depth: number): string | undefined {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (depth >= MAX_DEPTH || typeof value !== "object") return undefined;
  if (Array.isArray(value)) return encodeList(value, depth);
  if (!isPlainObject(value)) return undefined;
  const members: string[] = [];
  for (const name of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[name];
    if (member === undefined) continue;
    const encoded = encode(member, depth + 1);
    if (encoded === undefined) return undefined;
    members.push(`${JSON.stringify(name)}:${encoded}`);
  }
  return `{${members.join(",")}}`;
}

function encodeList(list: unknown[], depth: number): string | undefined {
  const items: string[] = [];
  // A for-of visits holes as undefined, which encode() refuses.
  for (const item of list) {
    const encoded = encode(item, depth + 1);
    if (encoded === undefined) return undefined;
    items.push(encoded);
  }
  return `[${items.join(",")}]`;
}

/** Made by a literal, JSON.parse or structuredClone, in this realm or another (a vm context, a test runner). */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}
