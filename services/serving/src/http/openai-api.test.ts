import { status as GrpcStatus } from "@grpc/grpc-js";
import { serving } from "@sloughgpt/proto";
import { AppError, createLogger, NotFoundError, ResourceExhaustedError } from "@sloughgpt/runtime";
import type { Embed } from "../embedding.js";
import type { Generate } from "../generation.js";
import type { ModelRegistry } from "../registry/registry.js";
import { type OpenAIApi, startOpenAIApi } from "./openai-api.js";

const FINAL: serving.GenerateResponse = {
  event: {
    $case: "final",
    final: {
      finishReason: serving.FinishReason.FINISH_REASON_STOP,
      usage: { promptTokens: 4, completionTokens: 2, cachedTokens: 0 },
      cache: serving.CacheResult.CACHE_RESULT_HIT,
    },
  },
};

/** A generation that answers "Hello" (or fails as told), recording what it was asked. */
function fakeGenerate(behaviour: { failBefore?: Error; failAfter?: Error } = {}) {
  const seen: serving.GenerateRequest[] = [];
  const generate: Generate = async (req, write) => {
    seen.push(req);
    if (behaviour.failBefore) throw behaviour.failBefore;
    await write({ event: { $case: "delta", delta: "Hel" } });
    if (behaviour.failAfter) throw behaviour.failAfter;
    await write({ event: { $case: "delta", delta: "lo" } });
    await write(FINAL);
  };
  return { generate, seen };
}

const registry = {
  models: () => [
    {
      id: "m",
      createdUnix: 1,
      contextSize: 64,
      quantization: "F32",
      engine: "llama",
      chatTemplate: "chatml",
      state: "loaded",
    },
  ],
} as unknown as ModelRegistry;

let api: OpenAIApi | undefined;

const embed: Embed = async (req) => ({
  embeddings: req.input.map((_, i) => ({ values: [i, 1] })),
  promptTokens: 3,
});

async function start(generate: Generate, apiKey?: string) {
  api = await startOpenAIApi({
    port: 0,
    host: "127.0.0.1",
    apiKey,
    bodyLimitBytes: 2048,
    generate,
    embed,
    registry,
    logger: createLogger({ service: "test", level: "silent" }),
  });
  return `http://127.0.0.1:${api.port}`;
}

afterEach(async () => {
  await api?.close(1000);
  api = undefined;
});

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

const chat = { model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 5, temperature: 0 };

describe("serving's OpenAI-compatible API", () => {
  it("maps a chat body to a Generate request and answers with the whole text and the cache result", async () => {
    const { generate, seen } = fakeGenerate();
    const url = await start(generate);
    const res = await post(`${url}/v1/chat/completions`, chat, { "x-request-id": "req-1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-sloughgpt-cache")).toBe("hit");
    expect(res.headers.get("x-request-id")).toBe("req-1");
    const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: unknown };
    expect(body.choices[0]?.message.content).toBe("Hello");
    expect(seen[0]).toMatchObject({ model: "m", maxTokens: 5, stream: false, requestId: "req-1", keyId: "" });
  });

  it("streams chunks and [DONE]; an error after the first chunk becomes an error event", async () => {
    const url = await start(
      fakeGenerate({ failAfter: new AppError(GrpcStatus.UNAVAILABLE, "engine died") }).generate,
    );
    const res = await post(`${url}/v1/completions`, { model: "m", prompt: "x", stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = (await res.text()).split("\n\n").filter(Boolean);
    expect(events[0]).toContain('"text":"Hel"');
    expect(JSON.parse(events[1]?.replace(/^data: /, "") ?? "")).toEqual({
      error: { message: "engine died", type: "server_error", param: null, code: "service_unavailable" },
    });
    expect(events.at(-1)).toBe("data: [DONE]");
  });

  it.each([
    [
      "unknown model",
      new NotFoundError("no model 'x'", { param: "model", reason: "model_not_found" }),
      404,
      "model_not_found",
    ],
    ["a full queue", new ResourceExhaustedError("the queue is full"), 429, "rate_limit_exceeded"],
    ["an unexpected error", new Error("secret at /srv/x.ts:1"), 500, "internal_error"],
  ])(
    "answers %s before streaming starts with its status and OpenAI's error JSON",
    async (_, err, status, code) => {
      const url = await start(fakeGenerate({ failBefore: err }).generate);
      const res = await post(`${url}/v1/chat/completions`, { ...chat, stream: true });
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message).not.toContain("/srv/");
      if (status === 429) expect(res.headers.get("retry-after")).toBe("1");
    },
  );

  it.each([
    ["not JSON", "{", {}, 400, "invalid_json"],
    ["a bad field", JSON.stringify({ ...chat, messages: [] }), {}, 400, "invalid_value"],
    ["too large", JSON.stringify({ ...chat, pad: "x".repeat(4096) }), {}, 413, "body_too_large"],
    ["not JSON content", "a=b", { "content-type": "text/plain" }, 415, "unsupported_media_type"],
  ])("refuses a body that is %s", async (_, body, headers, status, code) => {
    const { generate, seen } = fakeGenerate();
    const url = await start(generate);
    const res = await post(`${url}/v1/chat/completions`, body, headers);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(seen).toHaveLength(0);
  });

  it("lists models, finds one, and answers unknown routes and methods in OpenAI's shape", async () => {
    const url = await start(fakeGenerate().generate);
    expect(await (await fetch(`${url}/v1/models`)).json()).toEqual({
      object: "list",
      data: [{ id: "m", object: "model", created: 1, owned_by: "sloughgpt" }],
    });
    expect((await fetch(`${url}/v1/models/m`)).status).toBe(200);
    expect((await fetch(`${url}/v1/models/zz`)).status).toBe(404);
    expect((await fetch(`${url}/v1/nothing`)).status).toBe(404);
    expect((await fetch(`${url}/v1/chat/completions`)).status).toBe(405);
  });

  it("embeds a batch, and refuses dimensions the model does not have", async () => {
    const url = await start(fakeGenerate().generate);
    const res = await post(`${url}/v1/embeddings`, { model: "m", input: ["a", "b"] });
    expect(await res.json()).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [0, 1] },
        { object: "embedding", index: 1, embedding: [1, 1] },
      ],
      model: "m",
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
    const bad = await post(`${url}/v1/embeddings`, { model: "m", input: "a", dimensions: 3 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("dimensions");
  });

  it("answers a malformed path segment with 400", async () => {
    const url = await start(fakeGenerate().generate);
    expect((await fetch(`${url}/v1/models/%E0%A4%A`)).status).toBe(400);
  });

  it("requires the bearer key when one is configured", async () => {
    const url = await start(fakeGenerate().generate, "k-123");
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer k-1234" } })).status).toBe(
      401,
    );
    expect((await fetch(`${url}/v1/models`, { headers: { authorization: "Bearer k-123" } })).status).toBe(
      200,
    );
  });
});

describe("serving's OpenAI-compatible API at shutdown", () => {
  it("lets a request in flight finish, then closes its kept-alive connection without waiting out the grace", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const generate: Generate = async (_req, write) => {
      await gate;
      await write({ event: { $case: "delta", delta: "late" } });
      await write(FINAL);
    };
    const url = await start(generate);
    const answer = post(`${url}/v1/chat/completions`, chat).then(async (r) => [r.status, await r.json()]);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const closed = (api as OpenAIApi).close(10_000);
    api = undefined;
    setTimeout(release, 100);
    await closed;
    const [status, body] = await answer;
    expect(status).toBe(200);
    expect(JSON.stringify(body)).toContain('"content":"late"');
    // Without closing it, the idle connection would hold the server open for seconds (keep-alive timeout).
    expect(performance.now() - t0).toBeLessThan(2_000);
  });
});
