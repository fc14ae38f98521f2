import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { jest } from "@jest/globals";
import {
  type AppError,
  DeadlineExceededError,
  InvalidArgumentError,
  type Logger,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
} from "@sloughgpt/runtime";
import { type UpstreamSpec, upstreamSpec } from "../registry/spec.js";
import { DEFAULT_MAX_TOKENS, type GenerateParams } from "./engine.js";
import {
  allFailedError,
  backoffMs,
  connectFailure,
  generateRequest,
  httpVerdict,
  parseChunk,
  parseEmbeddings,
  parseErrorBody,
  parseRetryAfter,
  redactUrl,
  toFinishReason,
  UpstreamBackend,
} from "./upstream.js";

jest.setTimeout(20_000);

const params = (over: Partial<GenerateParams> = {}): GenerateParams => ({
  model: "m",
  input: { kind: "chat", messages: [{ role: "user", content: "hi" }] },
  stop: [],
  ...over,
});

describe("generateRequest", () => {
  it("streams a chat request with usage, greedy and bounded by default", () => {
    expect(generateRequest(params(), "up-model")).toEqual({
      path: "/chat/completions",
      body: {
        model: "up-model",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: DEFAULT_MAX_TOKENS,
        temperature: 0,
      },
    });
  });

  it("asks for one JSON answer when the caller wants only the whole text", () => {
    const { body } = generateRequest(params(), "up-model", { incremental: false });
    expect(body.stream).toBe(false);
    expect(body).not.toHaveProperty("stream_options");
    expect(generateRequest(params(), "up-model", { incremental: true }).body.stream).toBe(true);
  });

  it("maps every sampling parameter, top_k included", () => {
    const req = generateRequest(
      params({
        input: { kind: "prompt", prompt: "Once" },
        maxTokens: 7,
        temperature: 0.7,
        topP: 0.9,
        topK: 40,
        seed: 3,
        presencePenalty: 0.5,
        frequencyPenalty: -0.5,
        stop: ["\n"],
        responseFormat: { type: "json_schema", schema: { type: "object" } },
      }),
      "m",
    );
    expect(req.path).toBe("/completions");
    expect(req.body).toEqual({
      model: "m",
      prompt: "Once",
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 7,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 40,
      seed: 3,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      stop: ["\n"],
      response_format: { type: "json_schema", json_schema: { name: "response", schema: { type: "object" } } },
    });
  });

  it.each([
    [{ type: "json_object" } as const, { type: "json_object" }],
    [{ type: "text" } as const, undefined],
  ])("sends response_format %j as %j", (format, expected) => {
    expect(generateRequest(params({ responseFormat: format }), "m").body.response_format).toEqual(expected);
  });
});

describe("parseChunk", () => {
  it.each([
    [
      "a chat delta",
      { choices: [{ index: 0, delta: { content: "Hel" }, finish_reason: null }] },
      { text: "Hel" },
    ],
    ["the role chunk", { choices: [{ index: 0, delta: { role: "assistant", content: "" } }] }, { text: "" }],
    [
      "a text delta",
      { choices: [{ index: 0, text: "lo", finish_reason: "length" }] },
      { text: "lo", finishReason: "length" },
    ],
    [
      "a whole response",
      { choices: [{ message: { content: "all" }, finish_reason: "stop" }] },
      { text: "all", finishReason: "stop" },
    ],
    [
      "the usage chunk",
      {
        choices: [],
        usage: { prompt_tokens: 5, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 3 } },
      },
      { text: "", usage: { promptTokens: 5, completionTokens: 2, cachedTokens: 3 } },
    ],
    ["an error event", { error: { message: "boom", type: "server_error" } }, { text: "", error: "boom" }],
    ["another choice only", { choices: [{ index: 1, delta: { content: "x" } }] }, { text: "" }],
  ])("reads %s", (_name, json, expected) => {
    expect(parseChunk(JSON.stringify(json))).toMatchObject(expected);
  });

  it("reports malformed JSON as an error", () => {
    expect(parseChunk("{nope").error).toMatch(/malformed/);
  });

  it("maps finish reasons onto the platform's", () => {
    expect([
      toFinishReason("length"),
      toFinishReason("stop"),
      toFinishReason("tool_calls"),
      toFinishReason(undefined),
    ]).toEqual(["length", "stop", "stop", "stop"]);
  });
});

describe("parseErrorBody and parseRetryAfter", () => {
  it.each([
    [
      '{"error":{"message":"bad","param":"temperature","code":"invalid_value"}}',
      { message: "bad", param: "temperature", code: "invalid_value" },
    ],
    [
      '{"object":"error","message":"The model `x` does not exist.","code":404}',
      { message: "The model `x` does not exist." },
    ],
    [
      '{"error":"Input validation error","error_type":"validation"}',
      { message: "Input validation error", code: "validation" },
    ],
    ['{"detail":"Not Found"}', { message: "Not Found" }],
    ["upstream connect error", { message: "upstream connect error" }],
  ])("reads %s", (body, expected) => {
    expect(parseErrorBody(body)).toEqual(expected);
  });

  it("reads seconds and HTTP dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe("httpVerdict", () => {
  const body = (message: string, extra: object = {}) => JSON.stringify({ error: { message, ...extra } });

  it("passes the caller's bad request through with its param and code", () => {
    const v = httpVerdict(
      400,
      body("temperature too high", { param: "temperature", code: "invalid_value" }),
      null,
    );
    expect(v.action).toBe("throw");
    const err = (v as { error: AppError }).error;
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({
      message: "temperature too high",
      param: "temperature",
      reason: "invalid_value",
    });
  });

  it("reports an unknown model as NOT_FOUND, but a missing route as the upstream's fault", () => {
    const model = httpVerdict(404, body("The model `x` does not exist."), null);
    expect(model.action === "throw" && model.error).toBeInstanceOf(NotFoundError);
    expect(model.action === "throw" && model.error.reason).toBe("model_not_found");
    expect(httpVerdict(404, '{"message":"Route POST:/v2/chat/completions not found"}', null).action).toBe(
      "next",
    );
  });

  it.each([401, 403])("moves on from a refused credential (%i), flagging it", (status) => {
    expect(httpVerdict(status, body("invalid api key"), null)).toMatchObject({
      action: "next",
      credentials: true,
    });
  });

  it.each([500, 502, 503, 504, 408])("moves on from %i", (status) => {
    expect(httpVerdict(status, "", null)).toMatchObject({
      action: "next",
      rateLimited: false,
      what: `HTTP ${status}`,
    });
  });

  it("moves on from 429, keeping Retry-After", () => {
    expect(httpVerdict(429, body("slow down"), "12")).toMatchObject({
      action: "next",
      rateLimited: true,
      retryAfterS: 12,
    });
  });
});

describe("connectFailure", () => {
  const fetchFailed = (cause: unknown) => new TypeError("fetch failed", { cause });

  it.each([
    ["ECONNREFUSED", true],
    ["ECONNRESET", true],
    ["ENOTFOUND", true],
    ["UND_ERR_CONNECT_TIMEOUT", true],
    ["UND_ERR_SOCKET", true],
    ["CERT_HAS_EXPIRED", false],
  ])("reads %s from the cause", (code, retryable) => {
    expect(connectFailure(fetchFailed(Object.assign(new Error(code), { code })))).toEqual({
      what: code,
      retryable,
    });
  });

  it("reads the code of an AggregateError from a dual-stack connect", () => {
    const agg = Object.assign(new AggregateError([new Error("v4"), new Error("v6")]), {
      code: "ECONNREFUSED",
    });
    expect(connectFailure(fetchFailed(agg))).toEqual({ what: "ECONNREFUSED", retryable: true });
  });

  it("does not retry a URL fetch refuses outright", () => {
    expect(connectFailure(fetchFailed(new Error("bad port")))).toEqual({
      what: "bad port",
      retryable: false,
    });
  });
});

describe("allFailedError and redactUrl", () => {
  const f = (over: object) => ({
    url: "http://a/v1",
    what: "HTTP 503",
    attempts: 1,
    rateLimited: false,
    ...over,
  });

  it("is RESOURCE_EXHAUSTED with the shortest Retry-After when every deployment is busy", () => {
    const err = allFailedError("m", [
      f({ rateLimited: true, retryAfterS: 9 }),
      f({ rateLimited: true, retryAfterS: 4 }),
    ]);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect(err.message).toMatch(/retry after 4 s/);
  });

  it("is UNAVAILABLE naming each deployment and its attempts otherwise", () => {
    const err = allFailedError("m", [
      f({ url: "http://a/v1", what: "ECONNREFUSED", attempts: 3 }),
      f({ url: "http://b/v1", rateLimited: true }),
    ]);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err.message).toBe(
      "no upstream deployment of 'm' answered: http://a/v1: ECONNREFUSED (3 attempts); http://b/v1: HTTP 503",
    );
  });

  it("drops credentials and query from URLs", () => {
    expect(redactUrl("https://user:secret@host:8000/v1?key=secret")).toBe("https://host:8000/v1");
  });

  it("backs off exponentially up to a cap", () => {
    expect([1, 2, 3, 10].map((a) => backoffMs(a, 100))).toEqual([100, 200, 400, 2000]);
  });
});

describe("parseEmbeddings", () => {
  it("orders vectors by index, normalizes them and reads usage", () => {
    const r = parseEmbeddings(
      {
        data: [
          { index: 1, embedding: [0, 2] },
          { index: 0, embedding: [3, 4] },
        ],
        usage: { prompt_tokens: 6 },
      },
      2,
    );
    expect(r).toEqual({
      vectors: [
        [0.6, 0.8],
        [0, 1],
      ],
      promptTokens: 6,
    });
  });

  it.each([
    [{ data: [{ index: 0, embedding: [1] }] }, /expected 2/],
    [
      {
        data: [
          { index: 0, embedding: [1] },
          { index: 0, embedding: [1] },
        ],
      },
      /repeated index/,
    ],
    [
      {
        data: [
          { index: 0, embedding: "AAAA" },
          { index: 1, embedding: [1] },
        ],
      },
      /not a list of numbers/,
    ],
  ])("refuses %j", (json, message) => {
    expect(() => parseEmbeddings(json, 2)).toThrow(message);
  });
});

// ---------------------------------------------------------------------------------------------
// UpstreamBackend against scripted OpenAI-compatible HTTP servers on loopback (test doubles):
// real sockets and real fetch, so connection errors, timeouts and aborts behave as in production.

interface Seen {
  path: string;
  auth: string | undefined;
  body: Record<string, unknown>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>) => void;

class ScriptedServer {
  readonly seen: Seen[] = [];
  handler: Handler = (_q, res) => res.writeHead(500).end();
  closedConnections = 0;
  private readonly server = http.createServer(async (req, res) => {
    let text = "";
    for await (const c of req) text += c;
    const body = JSON.parse(text || "{}");
    this.seen.push({ path: req.url ?? "", auth: req.headers.authorization, body });
    res.on("close", () => {
      if (!res.writableFinished) this.closedConnections += 1;
    });
    this.handler(req, res, body);
  });

  async start(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }
}

/** A URL where nothing listens. */
async function closedUrl(): Promise<string> {
  const s = http.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as AddressInfo).port;
  s.close();
  await once(s, "close");
  return `http://127.0.0.1:${port}/v1`;
}

const sse = (res: http.ServerResponse, events: unknown[], end = true) => {
  res.writeHead(200, { "content-type": "text/event-stream" });
  for (const e of events) res.write(`data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`);
  if (end) res.end();
};
const delta = (content: string, finish: string | null = null) => ({
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});
const usage = (p: number, c: number) => ({ choices: [], usage: { prompt_tokens: p, completion_tokens: c } });
const happy: Handler = (_q, res) => sse(res, [delta("Hel"), delta("lo", "length"), usage(4, 2), "[DONE]"]);

/** Records what a test logger was asked to log, so tests can look for secrets. */
function recordingLogger(): { logger: Logger; lines: { level: string; args: unknown[] }[] } {
  const lines: { level: string; args: unknown[] }[] = [];
  const logger = {
    child: () => logger,
    ...Object.fromEntries(
      ["trace", "debug", "info", "warn", "error", "fatal"].map((level) => [
        level,
        (...args: unknown[]) => lines.push({ level, args }),
      ]),
    ),
  };
  return { logger: logger as unknown as Logger, lines };
}

let a: ScriptedServer;
let b: ScriptedServer;
let urlA: string;
let urlB: string;
let backends: UpstreamBackend[] = [];

function backend(
  over: Partial<UpstreamSpec> & { deployments: UpstreamSpec["deployments"] },
  logger?: Logger,
) {
  const spec = upstreamSpec.parse({ id: "m", engine: "openai-compatible", ...over });
  const u = new UpstreamBackend(spec, { logger: logger ?? recordingLogger().logger, retryBackoffMs: 10 });
  backends.push(u);
  return u;
}

async function run(u: UpstreamBackend, p = params(), signal = new AbortController().signal) {
  const deltas: string[] = [];
  const result = await u.generate(p, { signal, onDelta: (d) => void deltas.push(d) });
  return { deltas, ...result };
}

beforeEach(async () => {
  a = new ScriptedServer();
  b = new ScriptedServer();
  [urlA, urlB] = [await a.start(), await b.start()];
});

afterEach(async () => {
  await Promise.all(backends.map((u) => u.close()));
  backends = [];
  await Promise.all([a.stop(), b.stop()]);
});

describe("UpstreamBackend", () => {
  it("streams deltas in order and returns finish reason and usage", async () => {
    a.handler = happy;
    const u = backend({ deployments: [{ url: urlA, apiKey: "sk-a", model: "served" }], contextSize: 2048 });
    expect(await run(u)).toEqual({
      deltas: ["Hel", "lo"],
      finishReason: "length",
      promptTokens: 4,
      completionTokens: 2,
      cachedTokens: 0,
    });
    expect(a.seen[0]).toMatchObject({
      path: "/v1/chat/completions",
      auth: "Bearer sk-a",
      body: { model: "served" },
    });
    expect(u.info).toMatchObject({
      id: "m",
      engine: "openai-compatible",
      contextSize: 2048,
      quantization: "upstream",
    });
  });

  it("waits for each onDelta before handing over the next", async () => {
    a.handler = happy;
    const u = backend({ deployments: [{ url: urlA }] });
    const order: string[] = [];
    await u.generate(params(), {
      signal: new AbortController().signal,
      onDelta: async (d) => {
        order.push(`start ${d}`);
        await new Promise((r) => setTimeout(r, 20));
        order.push(`end ${d}`);
      },
    });
    expect(order).toEqual(["start Hel", "end Hel", "start lo", "end lo"]);
  });

  it("counts 0 tokens when the upstream sends no usage, and accepts a stream without [DONE]", async () => {
    a.handler = (_q, res) => sse(res, [delta("x", "stop")]);
    expect(await run(backend({ deployments: [{ url: urlA }] }))).toMatchObject({
      deltas: ["x"],
      finishReason: "stop",
      promptTokens: 0,
      completionTokens: 0,
    });
  });

  it("reads a whole JSON completion from a server that ignored stream: true", async () => {
    a.handler = (_q, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          choices: [{ message: { content: "whole" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 3, completion_tokens: 1 },
        }),
      );
    };
    expect(await run(backend({ deployments: [{ url: urlA }] }))).toMatchObject({
      deltas: ["whole"],
      completionTokens: 1,
    });
  });

  it("retries an unreachable deployment, then falls through to the next", async () => {
    b.handler = happy;
    const { logger, lines } = recordingLogger();
    const u = backend(
      { deployments: [{ url: await closedUrl() }, { url: urlB, apiKey: "sk-b" }], connectRetries: 2 },
      logger,
    );
    expect((await run(u)).deltas).toEqual(["Hel", "lo"]);
    expect(lines.filter((l) => l.level === "debug" && String(l.args[1]).startsWith("Retrying"))).toHaveLength(
      2,
    );
    expect(JSON.stringify(lines)).not.toContain("sk-b");
  });

  it.each([500, 502, 503, 429])("falls through on HTTP %i before any output", async (status) => {
    a.handler = (_q, res) => res.writeHead(status).end();
    b.handler = happy;
    const r = await run(backend({ deployments: [{ url: urlA }, { url: urlB }] }));
    expect(r.deltas.join("")).toBe("Hello");
    expect([a.seen.length, b.seen.length]).toEqual([1, 1]);
  });

  it("falls through when headers do not arrive within connectTimeoutMs", async () => {
    a.handler = () => undefined; // never answers
    b.handler = happy;
    const u = backend({
      deployments: [{ url: urlA }, { url: urlB }],
      connectTimeoutMs: 100,
      connectRetries: 0,
    });
    expect((await run(u)).deltas).toEqual(["Hel", "lo"]);
  });

  it("falls through when the stream fails before any output, but never after", async () => {
    a.handler = (_q, res) => sse(res, [{ error: { message: "engine crashed" } }]);
    b.handler = happy;
    expect((await run(backend({ deployments: [{ url: urlA }, { url: urlB }] }))).deltas).toEqual([
      "Hel",
      "lo",
    ]);

    a.handler = (_q, res) => sse(res, [delta("Hel"), { error: { message: "engine crashed" } }]);
    const u = backend({ deployments: [{ url: urlA }, { url: urlB }] });
    await expect(run(u)).rejects.toThrow(UnavailableError);
    expect(b.seen).toHaveLength(1); // only the first test's request
  });

  it("fails UNAVAILABLE when the connection drops mid-stream", async () => {
    a.handler = (_q, res) => {
      sse(res, [delta("Hel")], false);
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const u = backend({ deployments: [{ url: urlA }, { url: urlB }] });
    await expect(run(u)).rejects.toThrow(/after output was sent/);
    expect(b.seen).toHaveLength(0);
  });

  it("passes a bad request through without trying other deployments", async () => {
    a.handler = (_q, res) =>
      res.writeHead(400, { "content-type": "application/json" }).end(
        JSON.stringify({
          error: { message: "'temperature' too high", param: "temperature", code: "invalid_value" },
        }),
      );
    const err = await run(backend({ deployments: [{ url: urlA }, { url: urlB }] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ param: "temperature", reason: "invalid_value" });
    expect(b.seen).toHaveLength(0);
  });

  it("reports RESOURCE_EXHAUSTED with Retry-After when every deployment is busy", async () => {
    a.handler = (_q, res) => res.writeHead(429, { "retry-after": "3" }).end();
    b.handler = (_q, res) => res.writeHead(429, { "retry-after": "5" }).end();
    const err = await run(backend({ deployments: [{ url: urlA }, { url: urlB }] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceExhaustedError);
    expect((err as Error).message).toMatch(/retry after 3 s/);
  });

  it("reports a refused credential as UNAVAILABLE, logs it as an error, and never shows the key", async () => {
    a.handler = (_q, res) =>
      res.writeHead(401).end('{"error":{"message":"Incorrect API key provided: sk-sec***"}}');
    const { logger, lines } = recordingLogger();
    const err = await run(backend({ deployments: [{ url: urlA, apiKey: "sk-secret-key" }] }, logger)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnavailableError);
    expect(lines.some((l) => l.level === "error")).toBe(true);
    expect(`${(err as Error).message} ${JSON.stringify(lines)}`).not.toContain("sk-secret-key");
  });

  it("returns 'cancelled' with the output so far when the caller aborts, and closes the upstream request", async () => {
    a.handler = (_q, res) => sse(res, [delta("Hel")], false); // then stalls
    const u = backend({ deployments: [{ url: urlA }] });
    const ctl = new AbortController();
    const deltas: string[] = [];
    const result = await u.generate(params(), {
      signal: ctl.signal,
      onDelta: (d) => {
        deltas.push(d);
        ctl.abort();
      },
    });
    expect(result).toMatchObject({ finishReason: "cancelled", completionTokens: 1 });
    expect(deltas).toEqual(["Hel"]);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.closedConnections).toBe(1);
  });

  it("fails DEADLINE_EXCEEDED past timeoutMs", async () => {
    a.handler = (_q, res) => sse(res, [delta("Hel")], false);
    const err = await run(backend({ deployments: [{ url: urlA }], timeoutMs: 200 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlineExceededError);
  });

  it("bounds concurrency and the queue, and close() aborts what is in flight", async () => {
    a.handler = (_q, res) => sse(res, [delta("Hel")], false);
    const u = backend({ deployments: [{ url: urlA }], concurrency: 1, maxQueue: 1 });
    const first = run(u).catch((e: unknown) => e);
    const second = run(u).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    expect([u.running, u.queued]).toEqual([1, 1]);
    await expect(run(u)).rejects.toThrow(ResourceExhaustedError);
    await u.close();
    expect(await first).toBeInstanceOf(UnavailableError);
    expect(await second).toBeInstanceOf(UnavailableError);
    expect([u.running, u.queued]).toEqual([0, 0]);
    await expect(run(u)).rejects.toThrow(/shutting down/);
  });

  it("embeds through the same fallback, returning unit vectors in input order", async () => {
    a.handler = (_q, res) => res.writeHead(503).end();
    b.handler = (_q, res, body) => {
      const input = body.input as string[];
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          data: input.map((_s, i) => ({ index: i, embedding: [i + 1, 0, 1] })).reverse(),
          usage: { prompt_tokens: 5 },
        }),
      );
    };
    const u = backend({ deployments: [{ url: urlA }, { url: urlB, model: "emb" }] });
    const r = await u.embed(["x", "y"], { signal: new AbortController().signal });
    expect(b.seen[0]).toMatchObject({
      path: "/v1/embeddings",
      body: { model: "emb", input: ["x", "y"], encoding_format: "float" },
    });
    expect(r.promptTokens).toBe(5);
    expect(r.vectors.map((v) => v[0]! / v[2]!)).toEqual([1, 2]);
    for (const v of r.vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 6);
  });

  it("refuses to tokenize with FAILED_PRECONDITION and asks no upstream", async () => {
    const u = backend({ deployments: [{ url: urlA }] });
    await expect(u.tokenize(["x"], { signal: new AbortController().signal })).rejects.toMatchObject({
      name: "FailedPreconditionError",
      reason: "tokenize_unsupported",
    });
    expect(a.seen).toHaveLength(0);
  });
});
