import fc from "fast-check";
import type { ChatTurn, GenerateParams } from "../engine/engine.js";
import { canonicalJson } from "./canonical.js";
import { cacheKey } from "./key.js";

const base: GenerateParams = {
  model: "tiny-llama",
  input: { kind: "chat", messages: [{ role: "user", content: "Hello" }] },
  stop: [],
};

const keyOf = (overrides: Partial<GenerateParams>) => cacheKey({ ...base, ...overrides });
const chat = (...contents: string[]): GenerateParams["input"] => ({
  kind: "chat",
  messages: contents.map((content) => ({ role: "user", content })),
});

describe("cacheKey", () => {
  it("is a hex SHA-256 that stays the same for the same request", () => {
    expect(cacheKey(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey(structuredClone(base))).toBe(cacheKey(base));
  });

  it("keeps its value across releases unless CACHE_KEY_VERSION is bumped with it", () => {
    // Shared entries outlive a deployment: an accidental change of the encoding would make
    // every replica miss, or worse, read entries written under another meaning.
    expect(cacheKey(base)).toBe("f8a7273927decd73d289bfdc263bcaed4cb52bbba4d9c4c80f9a8bc773432e54");
  });

  it.each([
    ["temperature 0.7", { temperature: 0.7 }],
    ["a tiny positive temperature", { temperature: 1e-9 }],
    ["NaN temperature", { temperature: Number.NaN }],
  ])("refuses to key a sampled request: %s", (_name, overrides) => {
    expect(keyOf(overrides)).toBeUndefined();
  });

  it("treats unset, zero and negative temperature alike as greedy decoding", () => {
    const greedy = cacheKey(base);
    expect(keyOf({ temperature: 0 })).toBe(greedy);
    expect(keyOf({ temperature: -0 })).toBe(greedy);
    expect(keyOf({ temperature: -1 })).toBe(greedy);
  });

  it("ignores the seed, which greedy decoding never uses", () => {
    expect(keyOf({ seed: 42 })).toBe(cacheKey(base));
    expect(keyOf({ seed: 42, temperature: 0 })).toBe(keyOf({ seed: 7 }));
  });

  it.each<[string, Partial<GenerateParams>]>([
    ["model", { model: "other-model" }],
    ["message content", { input: chat("Hello!") }],
    ["message role", { input: { kind: "chat", messages: [{ role: "system", content: "Hello" }] } }],
    ["an extra turn", { input: chat("Hello", "Hello") }],
    ["prompt instead of chat", { input: { kind: "prompt", prompt: "Hello" } }],
    ["maxTokens", { maxTokens: 16 }],
    ["maxTokens set to the default", { maxTokens: 256 }],
    ["topP", { topP: 0.9 }],
    ["topK", { topK: 40 }],
    ["presencePenalty", { presencePenalty: 0.5 }],
    ["frequencyPenalty", { frequencyPenalty: -0.5 }],
    ["responseFormat json_object", { responseFormat: { type: "json_object" } }],
    ["responseFormat json_schema", { responseFormat: { type: "json_schema", schema: { type: "object" } } }],
    ["stop", { stop: ["\n"] }],
  ])("changes with %s", (_name, overrides) => {
    expect(keyOf(overrides)).toBeDefined();
    expect(keyOf(overrides)).not.toBe(cacheKey(base));
  });

  it("changes with the JSON schema's content", () => {
    const schema = (type: string) => ({
      type: "json_schema" as const,
      schema: { properties: { a: { type } } },
    });
    expect(keyOf({ responseFormat: schema("string") })).not.toBe(keyOf({ responseFormat: schema("number") }));
  });

  it("keys a field added to GenerateParams later rather than ignoring it", () => {
    const withNewField = { ...base, logitBias: { 42: -100 } } as GenerateParams;
    expect(cacheKey(withNewField)).not.toBe(cacheKey(base));
  });

  it.each<[string, Partial<GenerateParams>]>([
    ["topP 1", { topP: 1 }],
    ["zero penalties", { presencePenalty: 0, frequencyPenalty: 0 }],
    ["responseFormat text", { responseFormat: { type: "text" } }],
    ["explicitly undefined options", { maxTokens: undefined, topK: undefined, responseFormat: undefined }],
  ])("gives %s the key of leaving it out", (_name, overrides) => {
    expect(keyOf(overrides)).toBe(cacheKey(base));
  });

  it("treats stop sequences as a set", () => {
    expect(keyOf({ stop: ["b", "a", "b"] })).toBe(keyOf({ stop: ["a", "b"] }));
  });

  it.each<[string, Partial<GenerateParams>, Partial<GenerateParams>]>([
    ["messages split differently", { input: chat("ab", "c") }, { input: chat("a", "bc") }],
    ["a separator inside a message", { input: chat('a","b') }, { input: chat("a", "b") }],
    ["a separator inside a stop sequence", { stop: ["a,b"] }, { stop: ["a", "b"] }],
    [
      "the same text as chat and as prompt",
      { input: chat("user") },
      { input: { kind: "prompt", prompt: "user" } },
    ],
    ["model text moved into the prompt", { model: "m a" }, { model: "m", input: chat("a Hello") }],
  ])("does not collide for %s", (_name, a, b) => {
    expect(keyOf(a)).not.toBe(keyOf(b));
  });

  it("refuses values JSON cannot carry exactly", () => {
    expect(keyOf({ topP: Number.POSITIVE_INFINITY })).toBeUndefined();
    expect(keyOf({ maxTokens: Number.NaN })).toBeUndefined();
  });

  it("property: the order members were written in and undefined members never change the key", () => {
    fc.assert(
      fc.property(generateParams, fc.integer(), (params, seed) => {
        const key = cacheKey(params);
        expect(key).toBeDefined();
        expect(cacheKey(reorder(dropUndefined(params), seed) as GenerateParams)).toBe(key);
        expect(cacheKey(reorder(params, seed + 1) as GenerateParams)).toBe(key);
      }),
    );
  });

  it("property: two conversations share a key only when they are the same conversation", () => {
    fc.assert(
      fc.property(fc.array(turn, { maxLength: 3 }), fc.array(turn, { maxLength: 3 }), (a, b) => {
        const same = JSON.stringify(a) === JSON.stringify(b);
        const ka = keyOf({ input: { kind: "chat", messages: a } });
        const kb = keyOf({ input: { kind: "chat", messages: b } });
        expect(ka === kb).toBe(same);
      }),
    );
  });

  it("property: the same text split into messages at different points never collides", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 2 }), fc.nat(), fc.nat(), (text, i, j) => {
        const [p, q] = [i % (text.length + 1), j % (text.length + 1)];
        fc.pre(p !== q);
        const split = (at: number) => keyOf({ input: chat(text.slice(0, at), text.slice(at)) });
        expect(split(p)).not.toBe(split(q));
      }),
    );
  });
});

describe("canonicalJson", () => {
  it.each<[string, unknown, string | undefined]>([
    [
      "sorts members at every depth",
      { b: 1, a: { d: [1, { f: 2, e: 3 }], c: null } },
      '{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}',
    ],
    ["leaves out undefined members", { a: undefined, b: "x" }, '{"b":"x"}'],
    ["escapes strings", { 'a"': 'b\n"' }, '{"a\\"":"b\\n\\""}'],
    [
      "accepts an object without a prototype",
      Object.assign(Object.create(null), { b: 1, a: 2 }),
      '{"a":2,"b":1}',
    ],
    ["accepts an object made in another realm", structuredClone({ b: 1, a: 2 }), '{"a":2,"b":1}'],
    ["refuses NaN", { a: Number.NaN }, undefined],
    ["refuses undefined in an array", [1, undefined], undefined],
    ["refuses an array hole", new Array(2), undefined],
    ["refuses a class instance", { at: new Date(0) }, undefined],
    ["refuses a bigint", 1n, undefined],
  ])("%s", (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it("refuses a value nested past its depth bound instead of overflowing the stack", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(canonicalJson(deep)).toBeUndefined();
  });
});

const turn: fc.Arbitrary<ChatTurn> = fc.record({
  role: fc.constantFrom("system", "user", "assistant"),
  content: fc.string(),
});

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const generateParams: fc.Arbitrary<GenerateParams> = fc.record(
  {
    model: fc.string({ minLength: 1 }),
    input: fc.oneof(
      fc.record({ kind: fc.constant("chat" as const), messages: fc.array(turn, { maxLength: 4 }) }),
      fc.record({ kind: fc.constant("prompt" as const), prompt: fc.string() }),
    ),
    maxTokens: optional(fc.integer({ min: 1, max: 4096 })),
    temperature: fc.constantFrom(undefined, 0),
    topP: optional(fc.double({ min: 0, max: 1, noNaN: true })),
    topK: optional(fc.integer({ min: 0, max: 200 })),
    seed: optional(fc.integer()),
    presencePenalty: optional(fc.double({ min: -2, max: 2, noNaN: true })),
    frequencyPenalty: optional(fc.double({ min: -2, max: 2, noNaN: true })),
    responseFormat: optional(
      fc.oneof(
        fc.constant({ type: "text" as const }),
        fc.constant({ type: "json_object" as const }),
        fc.record({
          type: fc.constant("json_schema" as const),
          schema: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })),
        }),
      ),
    ),
    stop: fc.array(fc.string(), { maxLength: 4 }),
  },
  { requiredKeys: ["model", "input", "stop"] },
);

/** The same value with every object's members written in a seeded random order. */
function reorder(value: unknown, seed: number): unknown {
  const random = mulberry32(seed);
  const visit = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(visit);
    if (v === null || typeof v !== "object") return v;
    const entries = Object.entries(v).map(([k, x]) => [k, visit(x)] as const);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    // fromEntries makes own members even of a "__proto__" name.
    return Object.fromEntries(entries);
  };
  return visit(value);
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
