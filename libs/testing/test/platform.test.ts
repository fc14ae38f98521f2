import { jest } from "@jest/globals";
import OpenAI from "openai";
import { type Platform, startPlatform } from "../src/index.js";

jest.setTimeout(120_000);

let platform: Platform;
let client: OpenAI;

const api = (path: string, init: RequestInit & { json?: unknown } = {}) =>
  fetch(`${platform.gatewayUrl}${path}`, {
    ...init,
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: {
      authorization: `Bearer ${platform.adminKey}`,
      "content-type": "application/json",
      ...init.headers,
    },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });

beforeAll(async () => {
  platform = await startPlatform();
  client = new OpenAI({ baseURL: `${platform.gatewayUrl}/v1`, apiKey: platform.adminKey, maxRetries: 0 });
});

afterAll(async () => {
  await platform?.stop();
});

describe("OpenAI-compatible API through the official SDK", () => {
  it("lists the served model", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([platform.modelId]);
  });

  it("returns a chat completion with generated text and usage", async () => {
    const res = await client.chat.completions.create({
      model: platform.modelId,
      messages: [{ role: "user", content: "Hello there" }],
      max_tokens: 12,
      temperature: 0,
    });
    expect(res.object).toBe("chat.completion");
    expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(res.choices[0]?.finish_reason);
    expect(res.usage?.completion_tokens).toBeGreaterThan(0);
    expect(res.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it("streams the same text as the non-streamed greedy completion", async () => {
    const body = {
      model: platform.modelId,
      messages: [{ role: "user" as const, content: "Tell me a story" }],
      max_tokens: 10,
      temperature: 0,
    };
    const whole = await client.chat.completions.create(body);
    // Past the response cache, so the stream is generated again rather than replayed.
    const stream = await client.chat.completions.create(
      { ...body, stream: true, stream_options: { include_usage: true } },
      { headers: { "cache-control": "no-cache" } },
    );
    let text = "";
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(finish).toBe(whole.choices[0]?.finish_reason);
    expect(usage?.completion_tokens).toBe(whole.usage?.completion_tokens);
  });

  it("continues a raw prompt on /v1/completions", async () => {
    const res = await client.completions.create({
      model: platform.modelId,
      prompt: "Once upon a time",
      max_tokens: 8,
      temperature: 0,
    });
    expect(res.object).toBe("text_completion");
    expect(res.choices[0]?.text.length).toBeGreaterThan(0);
  });

  it("returns unit-length embeddings in input order, also in the SDK's default base64 form", async () => {
    const res = await client.embeddings.create({
      model: platform.modelId,
      input: ["shock wave", "boundary layer"],
    });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    const [a, b] = res.data.map((d) => d.embedding);
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    expect(norm(a ?? [])).toBeCloseTo(1, 4);
    expect(a).not.toEqual(b);
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
    const floats = await client.embeddings.create({
      model: platform.modelId,
      input: "shock wave",
      encoding_format: "float",
    });
    expect(floats.data[0]?.embedding.map((x) => x.toFixed(5))).toEqual(a?.map((x) => x.toFixed(5)));
    await expect(
      client.embeddings.create({ model: platform.modelId, input: "x", dimensions: 3 }),
    ).rejects.toMatchObject({ status: 400, param: "dimensions" });
  });

  it("surfaces errors as the SDK's typed errors", async () => {
    await expect(
      client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({ status: 404, code: "model_not_found" });
    const anonymous = new OpenAI({
      baseURL: `${platform.gatewayUrl}/v1`,
      apiKey: "sk-wrong-key",
      maxRetries: 0,
    });
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("surfaces a missing permission as PermissionDeniedError and a rate limit as RateLimitError", async () => {
    const issue = async (body: object) => {
      const res = await api("/v1/admin/keys", { json: { team: "sdk", ...body } });
      expect(res.status).toBe(201);
      return new OpenAI({
        baseURL: `${platform.gatewayUrl}/v1`,
        apiKey: ((await res.json()) as { key: string }).key,
        maxRetries: 0,
      });
    };
    const viewer = await issue({ name: "viewer", role: "viewer" });
    const ask = (c: OpenAI) =>
      c.chat.completions.create({
        model: platform.modelId,
        max_tokens: 1,
        messages: [{ role: "user", content: "x" }],
      });
    await expect(ask(viewer)).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    const tight = await issue({ name: "tight", role: "consumer", rpm: 1 });
    // The second inside one minute is refused; a third covers a first sent in a minute's last moments.
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await ask(tight).catch((e: unknown) => e));
    const refused = outcomes.find((o) => o instanceof Error);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(refused).toMatchObject({ status: 429, code: "rate_limit_exceeded" });
    expect(
      (refused as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("x-ratelimit-limit-requests"),
    ).toBe("1");
  });
});

describe("HTTP API", () => {
  it("answers a plain HTTP chat request with generated text and a request id", async () => {
    const res = await api("/v1/chat/completions", {
      json: { model: platform.modelId, messages: [{ role: "user", content: "hi" }], max_tokens: 5 },
      headers: { "x-request-id": "req-123" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("req-123");
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
  });

  it.each([
    [{ model: "tiny-llama", messages: [] }, "messages"],
    [{ model: "tiny-llama", messages: [{ role: "user", content: "x" }], max_tokens: 100000 }, "max_tokens"],
    [{ messages: [{ role: "user", content: "x" }] }, "model"],
  ])("rejects %j with a 400 naming %s", async (json, param) => {
    const res = await api("/v1/chat/completions", { json });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; type: string; message: string } };
    expect(body.error).toMatchObject({ param, type: "invalid_request_error" });
    expect(body.error.message).not.toMatch(/at .*\.ts/);
  });

  it.each([
    [{ max_tokens: 4294967297 }, "max_tokens"],
    [{ seed: 2 ** 31 }, "seed"],
  ])("rejects out-of-range numbers %j with a 400, not a 500", async (extra, param) => {
    const res = await api("/v1/chat/completions", {
      json: { model: "tiny-llama", messages: [{ role: "user", content: "x" }], ...extra },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
  });

  it("continues the caller's W3C trace in its logs", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await api("/v1/models", { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(res.status).toBe(200);
    // The access line is written once the response is sent; it reaches us through a pipe.
    const traced = () => platform.logs("gateway").filter((l) => l.includes(traceId));
    for (let i = 0; i < 40 && traced().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(traced()).toContainEqual(expect.stringContaining('"msg":"Completed request"'));
  });

  it("retrieves one model and 404s an unknown one", async () => {
    expect((await client.models.retrieve(platform.modelId)).id).toBe(platform.modelId);
    await expect(client.models.retrieve("nope")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("accepts an assistant turn with null content", async () => {
    const res = await api("/v1/chat/completions", {
      json: {
        model: "tiny-llama",
        max_tokens: 2,
        messages: [
          { role: "user", content: "a" },
          { role: "assistant", content: null },
          { role: "user", content: "b" },
        ],
      },
    });
    expect(res.status).toBe(200);
  });

  it("rejects malformed JSON with a 400 in OpenAI's error shape", async () => {
    const res = await api("/v1/chat/completions", { method: "POST", body: "{not json" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });

  it("stores documents in a collection and finds them by full-text search", async () => {
    expect((await api("/v1/rag/collections", { json: { name: "physics" } })).status).toBe(201);
    const small = await api("/v1/rag/collections", { json: { name: "small", chunk_size: 100 } });
    expect(await small.json()).toMatchObject({ chunk_size: 100, chunk_overlap: 25 });
    const dup = await api("/v1/rag/collections", { json: { name: "physics" } });
    expect(dup.status).toBe(409);
    const up = await api("/v1/rag/collections/physics/documents", {
      json: {
        documents: [
          {
            id: "a",
            text: "Supersonic flow over a flat plate produces a shock wave.",
            metadata: { source: "cran" },
          },
          { id: "b", text: "Heat transfer in laminar boundary layers of viscous fluids." },
        ],
      },
    });
    expect(await up.json()).toEqual({ documents_changed: 2, chunks_written: 2 });
    const again = await api("/v1/rag/collections/physics/documents", {
      json: { documents: [{ id: "b", text: "Heat transfer in laminar boundary layers of viscous fluids." }] },
    });
    expect(await again.json()).toEqual({ documents_changed: 0, chunks_written: 0 });
    const res = await api("/v1/rag/collections/physics/search", { json: { query: "shock waves", top_k: 5 } });
    const body = (await res.json()) as { results: { document_id: string; metadata: unknown }[] };
    expect(body.results.map((r) => r.document_id)).toEqual(["a"]);
    expect(body.results[0]?.metadata).toEqual({ source: "cran" });
    expect((await api("/v1/rag/collections/nope/search", { json: { query: "x" } })).status).toBe(404);
  });

  it("solves a problem with chain of thought on top of serving", async () => {
    const res = await api("/v1/reasoning/solve", { json: { problem: "What is 2 + 2?", max_tokens: 16 } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      strategy: string;
      usage: { completion_tokens: number };
      answer: string;
    };
    expect(body.strategy).toBe("chain_of_thought");
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("accepts and records a TrainingJob manifest", async () => {
    const manifest =
      "apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata:\n  name: tiny\nspec:\n  image: trainer:1\n  numNodes: 2\n";
    const res = await api("/v1/training/jobs", {
      method: "POST",
      body: manifest,
      headers: { "content-type": "application/yaml" },
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name: "tiny", namespace: "default", phase: "Queued" });
    const list = (await (await api("/v1/training/jobs")).json()) as { data: { name: string }[] };
    expect(list.data.map((j) => j.name)).toContain("tiny");
    expect((await api("/v1/training/jobs/tiny")).status).toBe(200);
    const bad = await api("/v1/training/jobs", {
      json: {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name: "x" },
        spec: { image: "i", numNodes: 0 },
      },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { param: string } }).error.param).toBe("spec.numNodes");
  });
});

describe("fleet status and usage events", () => {
  it("reports every service, NATS and Postgres healthy, and counts generations from JetStream", async () => {
    const before = (await (await api("/v1/status")).json()) as { usage: { requests: number } };
    await client.chat.completions.create({
      model: platform.modelId,
      messages: [{ role: "user", content: "count me" }],
      max_tokens: 4,
    });
    let status:
      | { healthy: boolean; components: { name: string; healthy: boolean }[]; usage: { requests: number } }
      | undefined;
    for (let i = 0; i < 50; i++) {
      status = (await (await api("/v1/status")).json()) as typeof status;
      if (status && status.usage.requests > before.usage.requests) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status?.usage.requests).toBe(before.usage.requests + 1);
    expect(status?.components.map((c) => c.name).sort()).toEqual([
      "gateway",
      "nats",
      "postgres",
      "rag",
      "reasoning",
      "serving",
      "training-controller",
    ]);
    expect(status?.components.filter((c) => !c.healthy)).toEqual([]);
    expect(status?.healthy).toBe(true);
  });
});

describe("metrics", () => {
  it("exports serving's request, token and latency metrics for Prometheus", async () => {
    await client.chat.completions.create({
      model: platform.modelId,
      messages: [{ role: "user", content: "m" }],
      max_tokens: 3,
    });
    const text = await (await fetch(`http://127.0.0.1:${platform.ports.ops.serving}/metrics`)).text();
    const value = (name: string) =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1]);
    expect(value("gen_ai_server_time_to_first_token_seconds_count")).toBeGreaterThan(0);
    expect(value("gen_ai_server_time_per_output_token_seconds_count")).toBeGreaterThan(0);
    expect(value("sloughgpt_serving_generation_tokens_total")).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/sloughgpt_serving_requests_total\{[^}]*status="length"[^}]*\} \d+/);
    expect(value("sloughgpt_serving_running_sequences")).toBe(0);
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="Generate"/);
  });
});

describe("graceful shutdown", () => {
  it("drains an in-flight stream when serving gets SIGTERM, exits 0 and is reported", async () => {
    const stream = await client.chat.completions.create({
      model: platform.modelId,
      messages: [{ role: "user", content: "a long answer please" }],
      max_tokens: 200,
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    const exited = platform.supervisor.stop("serving");
    let finish: string | null | undefined;
    for (let it = await iterator.next(); !it.done; it = await iterator.next())
      finish = it.value.choices[0]?.finish_reason ?? finish;
    expect(finish).toBe("length");
    const report = await exited;
    expect(report).toMatchObject({ name: "serving", code: 0, requested: true });
    expect(platform.exits).toContainEqual(report);
  });

  it.each(["gateway", "rag", "reasoning", "training-controller", "monitoring"] as const)(
    "%s exits 0 on SIGTERM",
    async (name) => {
      const report = await platform.supervisor.stop(name);
      expect(report).toMatchObject({ name, code: 0, signal: null });
    },
  );
});
