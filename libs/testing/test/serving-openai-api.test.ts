import { jest } from "@jest/globals";
import { freePort } from "@sloughgpt/launcher";
import OpenAI from "openai";
import { type Platform, startPlatform } from "../src/index.js";

jest.setTimeout(120_000);

// Serving's own OpenAI-compatible HTTP API (SERVING_API_PORT), with a key required (SERVING_API_KEY).
const KEY = "sk-serving-test-key-0123456789";

let platform: Platform;
let client: OpenAI;
let baseURL: string;

beforeAll(async () => {
  const port = await freePort();
  baseURL = `http://127.0.0.1:${port}/v1`;
  platform = await startPlatform({ extraEnv: { SERVING_API_PORT: String(port), SERVING_API_KEY: KEY } });
  client = new OpenAI({ baseURL, apiKey: KEY, maxRetries: 0 });
});

afterAll(async () => {
  await platform?.stop();
});

const chat = (content: string) => ({
  model: platform.modelId,
  messages: [{ role: "user" as const, content }],
  max_tokens: 8,
  temperature: 0,
});

describe("serving's OpenAI-compatible HTTP API through the official SDK", () => {
  it("lists the loaded model", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => [m.id, m.object])).toEqual([[platform.modelId, "model"]]);
  });

  it("answers a chat completion through the same response cache as gRPC Generate and the gateway", async () => {
    const body = chat("Tell me about the harbour.");
    const { data, response } = await client.chat.completions.create(body).withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    expect(response.headers.get("x-sloughgpt-cache")).toBe("miss");
    // The gateway's request reaches the same serving core over gRPC and finds serving's HTTP answer cached.
    const viaGateway = new OpenAI({
      baseURL: `${platform.gatewayUrl}/v1`,
      apiKey: platform.adminKey,
      maxRetries: 0,
    });
    const again = await viaGateway.chat.completions.create(body).withResponse();
    expect(again.response.headers.get("x-sloughgpt-cache")).toBe("hit");
    expect(again.data.choices[0]?.message.content).toBe(data.choices[0]?.message.content);
  });

  it("streams a chat completion, with the usage when asked", async () => {
    const body = chat("Tell me about the lighthouse.");
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      { headers: { "cache-control": "no-cache" } },
    );
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(["stop", "length"]).toContain(finish);
    expect(usage?.completion_tokens).toBe(whole.usage?.completion_tokens);
  });

  it("answers a text completion, whole and streamed", async () => {
    const body = { model: platform.modelId, prompt: "Once upon a time", max_tokens: 6, temperature: 0 };
    const whole = await client.completions.create(body);
    expect(whole.object).toBe("text_completion");
    expect(whole.choices[0]?.text.length).toBeGreaterThan(0);
    let text = "";
    for await (const chunk of await client.completions.create({ ...body, stream: true })) {
      text += chunk.choices[0]?.text ?? "";
    }
    expect(text).toBe(whole.choices[0]?.text);
  });

  it("embeds a batch of texts", async () => {
    const res = await client.embeddings.create({
      model: platform.modelId,
      input: ["a lighthouse", "the sea"],
    });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(res.data[1]?.embedding.length).toBe(res.data[0]?.embedding.length);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it("refuses an unknown model with 404 model_not_found", async () => {
    const err = await client.chat.completions.create({ ...chat("hi"), model: "nope" }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
  });

  it("refuses a bad body with 400, naming the field", async () => {
    const err = await client.chat.completions.create({ ...chat("hi"), messages: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe("messages");
  });

  it("refuses a request without the key, or with another one, with 401", async () => {
    const res = await fetch(`${baseURL}/models`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: expect.objectContaining({ type: "invalid_request_error", code: "invalid_api_key" }),
    });
    const wrong = new OpenAI({ baseURL, apiKey: `${KEY}x`, maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe("shutdown", () => {
  it("drains a stream on the HTTP API and one through the gateway together when serving gets SIGTERM", async () => {
    const gateway = new OpenAI({
      baseURL: `${platform.gatewayUrl}/v1`,
      apiKey: platform.adminKey,
      maxRetries: 0,
    });
    const long = { ...chat("a long answer please"), max_tokens: 200, stream: true as const };
    const streams = [await client.chat.completions.create(long), await gateway.chat.completions.create(long)];
    const iterators = streams.map((s) => s[Symbol.asyncIterator]());
    for (const it of iterators) expect((await it.next()).done).toBe(false);
    const exited = platform.supervisor.stop("serving");
    const finishes = await Promise.all(
      iterators.map(async (it) => {
        let finish: string | null | undefined;
        for (let r = await it.next(); !r.done; r = await it.next())
          finish = r.value.choices[0]?.finish_reason ?? finish;
        return finish;
      }),
    );
    expect(finishes).toEqual(["length", "length"]);
    expect(await exited).toMatchObject({ name: "serving", code: 0, requested: true });
  });
});
