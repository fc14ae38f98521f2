import type { Logger } from "@sloughgpt/runtime";
import { TEST_KEY, testApp } from "./test-app.js";

const KEY = TEST_KEY;

/** A logger that keeps every line it is given (pino's calling conventions: object first, then message). */
function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const make = (bindings: Record<string, unknown>): unknown => {
    // Raw req/res objects are circular (pino serializes them); the rest is kept as given.
    const write = (obj: unknown, msg?: string) => {
      const {
        req: _req,
        res: _res,
        ...fields
      } = (typeof obj === "object" && obj !== null ? obj : { msg: obj }) as Record<string, unknown>;
      lines.push({ ...bindings, ...fields, msg });
    };
    return {
      level: "info",
      info: write,
      warn: write,
      error: write,
      fatal: write,
      debug: write,
      trace: write,
      silent: () => undefined,
      child: (b: Record<string, unknown>) => make({ ...bindings, ...b }),
    };
  };
  return { logger: make({}) as Logger, lines };
}

async function chat(logPrompts: boolean) {
  const { logger, lines } = recordingLogger();
  const app = testApp({ logger, logPrompts });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      // No model: refused with a 400 after the body was read, before any upstream call.
      body: JSON.stringify({
        messages: [
          { role: "user", content: "I'm carol@example.com, +44 20 7946 0958, key sk-live-abcdef123456" },
        ],
      }),
    });
  } finally {
    await app.close();
  }
  return JSON.stringify(lines);
}

describe("prompt logging", () => {
  it("keeps prompts out of the logs by default", async () => {
    const logs = await chat(false);
    expect(logs).not.toContain("carol");
    expect(logs).not.toContain("Received request body");
  });

  it("logs request bodies with LOG_PROMPTS, masking emails, phone numbers and keys", async () => {
    const logs = await chat(true);
    expect(logs).toContain("Received request body");
    expect(logs).toContain("I'm [email], [phone], key sk-[redacted]");
    expect(logs).not.toMatch(/carol@example\.com|7946|sk-live/);
  });
});

describe("access log", () => {
  it("writes one line per request with method, path, status, duration and key, never the secret", async () => {
    const { logger, lines } = recordingLogger();
    const app = testApp({ logger });
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
        body: "{}",
      });
    } finally {
      await app.close();
    }
    const access = lines.filter((l) => l.msg === "Completed request");
    expect(access).toEqual([
      expect.objectContaining({ method: "POST", url: "/v1/chat/completions", status: 400, key: "admin" }),
    ]);
    expect(typeof access[0]?.ms).toBe("number");
    expect(JSON.stringify(lines)).not.toContain(KEY);
  });
});
