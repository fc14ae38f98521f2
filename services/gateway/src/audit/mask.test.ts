import fc from "fast-check";
import { maskDeep, maskSensitive } from "./mask.js";

describe("maskSensitive", () => {
  it.each([
    ["mail jane.doe+work@example.co.uk today", "mail [email] today"],
    ["key sk-sg-AbCdEf123456_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG ok", "key sk-[redacted] ok"],
    ["openai sk-proj-abc123def456", "openai sk-[redacted]"],
    ["call +1 (415) 555-0100 now", "call [phone] now"],
    ["call 020 7946 0958", "call [phone]"],
    ["or 415.555.0100.", "or [phone]."],
    ["token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl end", "token [jwt] end"],
    // Not personal data: dates, short numbers, long identifiers, plain words.
    ["on 2024-01-31 at 12:00", "on 2024-01-31 at 12:00"],
    ["order 12345 of 3", "order 12345 of 3"],
    ["id 123456789012345678901234", "id 123456789012345678901234"],
    ["ask-me anything, task-12", "ask-me anything, task-12"],
    ["a@b is not an address", "a@b is not an address"],
  ])("masks %j", (input, expected) => {
    expect(maskSensitive(input)).toBe(expected);
  });

  const email = fc
    .tuple(fc.stringMatching(/^[a-z][a-z0-9.]{0,10}[a-z0-9]$/), fc.stringMatching(/^[a-z]{1,10}$/))
    .map(([user, host]) => `${user}@${host}.com`);
  const key = fc.stringMatching(/^[A-Za-z0-9]{20,50}$/).map((s) => `sk-sg-${s}`);
  const text = fc.stringMatching(/^[a-z ,.!?]{0,30}$/);

  it("leaves no email address or key behind, wherever it appears", () => {
    fc.assert(
      fc.property(text, fc.oneof(email, key), text, (before, secret, after) => {
        const out = maskSensitive(`${before} ${secret} ${after}`);
        expect(out).not.toContain(secret);
        expect(out).toContain(before.trim());
      }),
    );
  });

  it("leaves text without personal data unchanged", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z ,.!?'-]{0,200}$/), (s) => expect(maskSensitive(s)).toBe(s)),
    );
  });

  // Inputs that make a backtracking pattern quadratic or worse (hours at this size); linear scanning
  // takes well under a second. The bound is the test's timeout, far above that: no timing is asserted.
  it("masks adversarial input of half a million characters", () => {
    const plain = ["a".repeat(500_000), "a.".repeat(250_000)];
    for (const s of plain) expect(maskSensitive(s)).toBe(s);
    expect(maskSensitive("1 ".repeat(250_000)).startsWith("[phone] [phone]")).toBe(true);
    expect(maskSensitive("sk-".repeat(150_000))).toBe("sk-[redacted]");
  }, 60_000);
});

describe("maskDeep", () => {
  it("masks every string of a request body and keeps its shape", () => {
    const body = {
      model: "tiny-llama",
      max_tokens: 5,
      messages: [{ role: "user", content: "I am bob@example.org, key sk-live-0123456789abcdef" }],
    };
    expect(maskDeep(body)).toEqual({
      model: "tiny-llama",
      max_tokens: 5,
      messages: [{ role: "user", content: "I am [email], key sk-[redacted]" }],
    });
  });

  it("redacts the whole value of a field named like a credential", () => {
    const body = {
      id: "remote",
      deployments: [{ url: "https://llm.example/v1", api_key: "hf_abcdef123456", apiKeyEnv: "REMOTE_KEY" }],
      password: "hunter2",
      clientSecret: { value: "abc" },
      max_tokens: 5,
    };
    expect(maskDeep(body)).toEqual({
      id: "remote",
      deployments: [{ url: "https://llm.example/v1", api_key: "[redacted]", apiKeyEnv: "REMOTE_KEY" }],
      password: "[redacted]",
      clientSecret: "[redacted]",
      max_tokens: 5,
    });
  });

  it("truncates absurd nesting instead of recursing without bound", () => {
    let deep: unknown = "x@y.com";
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(JSON.stringify(maskDeep(deep))).toContain("[truncated]");
  });
});
