import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { type Logger, NotFoundError, UnavailableError } from "@sloughgpt/runtime";
import { type Platform, startPlatform } from "@sloughgpt/testing";
import type { GenerateInput, GenerateParams } from "../src/engine/engine.js";
import { UpstreamBackend } from "../src/engine/upstream.js";
import { type UpstreamSpec, upstreamSpec } from "../src/registry/spec.js";

// The upstream here is a second, real SloughGPT platform (all six services, the tiny model),
// reached through its gateway's OpenAI-compatible API.

jest.setTimeout(60_000);

let platform: Platform;
let deadUrl: string;
const logs: { level: string; args: unknown[] }[] = [];
const backends: UpstreamBackend[] = [];

/** Collects log calls so the test can see which deployment answered. */
const logger = (() => {
  const l: Record<string, unknown> = { child: () => l };
  for (const level of ["trace", "debug", "info", "warn", "error", "fatal"]) {
    l[level] = (...args: unknown[]) => logs.push({ level, args });
  }
  return l as unknown as Logger;
})();

/** A loopback URL where nothing listens. */
async function closedUrl(): Promise<string> {
  const s = http.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as AddressInfo).port;
  s.close();
  await once(s, "close");
  return `http://127.0.0.1:${port}/v1`;
}

function backend(over: Partial<UpstreamSpec> = {}): UpstreamBackend {
  const spec = upstreamSpec.parse({
    id: "remote-tiny",
    engine: "openai-compatible",
    deployments: [
      { url: deadUrl },
      { url: `${platform.gatewayUrl}/v1`, apiKey: platform.adminKey, model: platform.modelId },
    ],
    connectRetries: 1,
    ...over,
  });
  const b = new UpstreamBackend(spec, { logger, retryBackoffMs: 20 });
  backends.push(b);
  return b;
}

const chat: GenerateInput = { kind: "chat", messages: [{ role: "user", content: "Tell me a story" }] };
const params = (over: Partial<GenerateParams> = {}): GenerateParams => ({
  model: "remote-tiny",
  input: chat,
  maxTokens: 8,
  stop: [],
  ...over,
});

async function generate(b: UpstreamBackend, p: GenerateParams, incremental?: boolean) {
  const deltas: string[] = [];
  const result = await b.generate(p, {
    signal: new AbortController().signal,
    onDelta: (d) => void deltas.push(d),
    incremental,
  });
  return { deltas, text: deltas.join(""), ...result };
}

/** A non-streamed greedy request straight to the gateway: what the backend's stream must add up to. */
async function direct(path: "/chat/completions" | "/completions", body: object) {
  const res = await fetch(`${platform.gatewayUrl}/v1${path}`, {
    method: "POST",
    // Kept out of the gateway's response cache, so the backend's request is generated, not replayed.
    headers: {
      authorization: `Bearer ${platform.adminKey}`,
      "content-type": "application/json",
      "cache-control": "no-store",
    },
    body: JSON.stringify({ model: platform.modelId, temperature: 0, max_tokens: 8, ...body }),
  });
  expect(res.status).toBe(200);
  const json = (await res.json()) as {
    choices: { message?: { content: string }; text?: string; finish_reason: string }[];
    usage: { prompt_tokens: number; completion_tokens: number };
  };
  const choice = json.choices[0]!;
  return {
    text: choice.message?.content ?? choice.text ?? "",
    finish: choice.finish_reason,
    usage: json.usage,
  };
}

beforeAll(async () => {
  [platform, deadUrl] = await Promise.all([startPlatform({ postgresAdminUrl: null }), closedUrl()]);
}, 120_000);

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await platform?.stop();
});

describe("UpstreamBackend against a second SloughGPT platform", () => {
  it("falls through a dead deployment and streams the same text as a direct greedy request", async () => {
    const b = backend();
    // One after the other: the comparison should not depend on how concurrent requests batch.
    const whole = await direct("/chat/completions", {
      messages: [{ role: "user", content: "Tell me a story" }],
    });
    const streamed = await generate(b, params());
    expect(streamed.deltas.length).toBeGreaterThan(1);
    expect(streamed.text).toBe(whole.text);
    expect(streamed).toMatchObject({
      finishReason: whole.finish,
      completionTokens: whole.usage.completion_tokens,
    });
    // The upstream's own count, passed through (its prefix reuse makes it vary between requests).
    expect(streamed.promptTokens).toBeGreaterThan(0);
    const skipped = logs.filter((l) => l.args[1] === "Skipped upstream deployment");
    expect(skipped.map((l) => l.args[0])).toEqual([
      { deployment: deadUrl, attempts: 2, error: "ECONNREFUSED" },
    ]);
    expect(JSON.stringify(logs)).not.toContain(platform.adminKey);
  });

  it("continues a raw prompt like the gateway's /v1/completions", async () => {
    const prompt = "Once upon a time";
    const whole = await direct("/completions", { prompt, max_tokens: 6 });
    const streamed = await generate(backend(), params({ input: { kind: "prompt", prompt }, maxTokens: 6 }));
    expect(streamed.text).toBe(whole.text);
    expect(streamed.completionTokens).toBe(whole.usage.completion_tokens);
    expect(streamed.completionTokens).toBeGreaterThan(0);
  });

  it("fetches the whole text in one answer for a caller that does not stream, with the same result", async () => {
    const prompt = "Once upon a time";
    const whole = await direct("/completions", { prompt, max_tokens: 6 });
    const once = await generate(
      backend(),
      params({ input: { kind: "prompt", prompt }, maxTokens: 6 }),
      false,
    );
    expect(once.deltas).toEqual([whole.text]);
    expect(once.completionTokens).toBe(whole.usage.completion_tokens);
    expect(once.finishReason).toBe("length");
  });

  it("reports a model the upstream does not serve as NOT_FOUND", async () => {
    const b = backend({
      id: "no-such-model",
      deployments: [{ url: `${platform.gatewayUrl}/v1`, apiKey: platform.adminKey }],
    });
    const err = await generate(b, params()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ reason: "model_not_found" });
  });

  it("returns 'cancelled' with the text so far when the caller aborts mid-stream", async () => {
    const ctl = new AbortController();
    const deltas: string[] = [];
    const result = await backend().generate(params({ maxTokens: 64 }), {
      signal: ctl.signal,
      onDelta: (d) => {
        deltas.push(d);
        if (deltas.length === 2) ctl.abort();
      },
    });
    expect(result.finishReason).toBe("cancelled");
    expect(deltas).toHaveLength(2);
    expect(result.completionTokens).toBeGreaterThanOrEqual(2);
  });

  it("returns one unit vector per input, in order", async () => {
    const inputs = ["the cat sat", "on the mat", "quantum chromodynamics"];
    const r = await backend().embed(inputs, { signal: new AbortController().signal });
    expect(r.vectors).toHaveLength(3);
    for (const v of r.vectors) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(r.promptTokens).toBeGreaterThan(0);
    // Same input, same vector: the order is the inputs' order.
    const again = await backend().embed([inputs[2]!], { signal: new AbortController().signal });
    const drift = again.vectors[0]!.map((x, i) => Math.abs(x - r.vectors[2]![i]!));
    expect(drift).toHaveLength(r.vectors[2]!.length);
    expect(Math.max(...drift)).toBeLessThan(1e-5);
  });

  it("fails UNAVAILABLE, naming each deployment, when none can be reached", async () => {
    const other = await closedUrl();
    const b = backend({
      deployments: [{ url: deadUrl }, { url: other, apiKey: "sk-never-shown" }],
      connectRetries: 2,
    });
    const err = await generate(b, params()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    const message = (err as Error).message;
    expect(message).toContain(`${deadUrl}: ECONNREFUSED (3 attempts)`);
    expect(message).toContain(`${other}: ECONNREFUSED (3 attempts)`);
    expect(message).not.toContain("sk-never-shown");
  });
});

describe("a platform whose registry forwards a model to another platform's gateway", () => {
  let front: Platform;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "upstream-registry-"));
    const registry = path.join(dir, "models.yaml");
    await writeFile(
      registry,
      [
        "models:",
        "  - id: remote-tiny",
        "    engine: openai-compatible",
        "    connectRetries: 0",
        "    deployments:",
        `      - url: ${deadUrl}`,
        `      - url: ${platform.gatewayUrl}/v1`,
        "        apiKeyEnv: REMOTE_GATEWAY_KEY",
        `        model: ${platform.modelId}`,
        "",
      ].join("\n"),
    );
    front = await startPlatform({
      postgresAdminUrl: null,
      extraEnv: { MODELS_CONFIG: registry, REMOTE_GATEWAY_KEY: platform.adminKey },
    });
  }, 120_000);

  afterAll(async () => {
    await front?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const frontCall = (p: string, body?: object) =>
    fetch(`${front.gatewayUrl}/v1${p}`, {
      method: body ? "POST" : "GET",
      headers: {
        authorization: `Bearer ${front.adminKey}`,
        "content-type": "application/json",
        "cache-control": "no-store",
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it("lists the forwarded model next to its own", async () => {
    const models = (await (await frontCall("/models")).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id).sort()).toEqual(["remote-tiny", "tiny-llama"]);
  });

  it("answers through the upstream gateway: same text, streamed or not, as asking it directly", async () => {
    const messages = [{ role: "user", content: "Tell me a story" }];
    const whole = await direct("/chat/completions", { messages });
    const res = await frontCall("/chat/completions", { model: "remote-tiny", messages, max_tokens: 8 });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { choices: { message: { content: string } }[]; model: string };
    expect(json.model).toBe("remote-tiny");
    expect(json.choices[0]?.message.content).toBe(whole.text);

    const stream = await frontCall("/chat/completions", {
      model: "remote-tiny",
      messages,
      max_tokens: 8,
      stream: true,
    });
    expect(stream.headers.get("content-type")).toMatch(/text\/event-stream/);
    let text = "";
    for (const line of (await stream.text()).split("\n")) {
      if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
      const chunk = JSON.parse(line.slice(6)) as { choices: { delta?: { content?: string } }[] };
      text += chunk.choices[0]?.delta?.content ?? "";
    }
    expect(text).toBe(whole.text);
  });

  it("embeds through the upstream and passes its errors on with OpenAI codes", async () => {
    const emb = await frontCall("/embeddings", { model: "remote-tiny", input: ["a", "b"] });
    expect(emb.status).toBe(200);
    expect(((await emb.json()) as { data: unknown[] }).data).toHaveLength(2);
    const tooLong = await frontCall("/chat/completions", {
      model: "remote-tiny",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 100_000,
    });
    expect(tooLong.status).toBe(400);
  });
});
