import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { ensureTinyModel } from "@sloughgpt/gguf";
import OpenAI from "openai";
import { type Platform, startPlatform } from "../src/index.js";

// Serving's model registry, response cache, prefix reuse, structured output and engine crash
// isolation, through the gateway of a real platform.
jest.setTimeout(120_000);

let platform: Platform;
let client: OpenAI;
let dir: string;
let q4Path: string;

const api = async (
  p: string,
  init: { method?: string; json?: unknown; headers?: Record<string, string> } = {},
) => {
  const res = await fetch(`${platform.gatewayUrl}${p}`, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: {
      authorization: `Bearer ${platform.adminKey}`,
      "content-type": "application/json",
      ...init.headers,
    },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
};

// Response bodies are checked field by field; `Json` keeps the indexing terse.
// biome-ignore lint/suspicious/noExplicitAny: test-side view of arbitrary JSON responses
type Json = Record<string, any>;

const metrics = async () => (await fetch(`http://127.0.0.1:${platform.ports.ops.serving}/metrics`)).text();
/** A sample's value: the line of `name` whose labels include all of `labels` (0 when absent). */
function metric(text: string, name: string, labels: Record<string, string>): number {
  const line = text
    .split("\n")
    .find(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return Number(line?.split(" ").at(-1) ?? 0);
}

const adminModels = async () =>
  (await api("/v1/admin/models")).body.data as { id: string; state: string; quantization: string }[];

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "models-test-"));
  q4Path = path.join(os.tmpdir(), "sloughgpt-test-models", "tiny-llama-q4_0.gguf");
  await ensureTinyModel(q4Path, { tensorType: "q4_0" });
  const registry = path.join(dir, "models.yaml");
  await writeFile(
    registry,
    `models:\n  - id: tiny-q4\n    path: ${q4Path}\n    quantization: Q4_0\n    sequences: 2\n    contextSize: 512\n    idleUnloadSeconds: 2\n`,
  );
  platform = await startPlatform({ postgresAdminUrl: null, extraEnv: { MODELS_CONFIG: registry } });
  client = new OpenAI({ baseURL: `${platform.gatewayUrl}/v1`, apiKey: platform.adminKey, maxRetries: 0 });
});

afterAll(async () => {
  await platform?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the model registry", () => {
  it("serves the registry file's models next to MODEL_PATH's, with their details for admins", async () => {
    const listed = await client.models.list();
    expect(listed.data.map((m) => m.id).sort()).toEqual(["tiny-llama", "tiny-q4"]);
    expect(await adminModels()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: "tiny-q4", engine: "llama", quantization: "Q4_0", context_size: 512 }),
        expect.objectContaining({ id: "tiny-llama", state: "loaded", chat_template: "chatml" }),
      ]),
    );
  });

  it("unloads an idle model and loads it again on the next request", async () => {
    await until(
      async () => (await adminModels()).find((m) => m.id === "tiny-q4")?.state === "idle",
      "idle unload",
    );
    // Still offered: it loads on demand.
    expect((await client.models.list()).data.map((m) => m.id)).toContain("tiny-q4");
    const res = await client.completions.create({
      model: "tiny-q4",
      prompt: "Once",
      max_tokens: 4,
      temperature: 0,
    });
    expect(res.usage?.completion_tokens).toBe(4);
    expect(metric(await metrics(), "sloughgpt_serving_model_load_seconds_count", { model: "tiny-q4" })).toBe(
      2,
    );
  });

  it("unloads and loads models through the admin API; a bad file is a clear 400 and the service stays up", async () => {
    expect((await api("/v1/admin/models/tiny-q4", { method: "DELETE" })).body).toEqual({
      id: "tiny-q4",
      object: "model",
      deleted: true,
    });
    const gone = await api("/v1/completions", { json: { model: "tiny-q4", prompt: "x", max_tokens: 2 } });
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: "model_not_found", param: "model" });

    const loaded = await api("/v1/admin/models", {
      json: { id: "tiny-q4", path: q4Path, quantization: "Q4_0", sequences: 1 },
    });
    expect(loaded.status).toBe(200);
    expect(loaded.body).toMatchObject({ id: "tiny-q4", state: "loaded", quantization: "Q4_0" });

    const notGguf = path.join(dir, "notes.gguf");
    await writeFile(notGguf, "not a model at all");
    for (const p of [notGguf, path.join(dir, "missing.gguf")]) {
      const bad = await api("/v1/admin/models", { json: { id: "broken", path: p } });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({
        type: "invalid_request_error",
        param: "path",
        code: "invalid_model_file",
      });
      expect(bad.body.error.message).toContain(p);
    }
    const failed = (await adminModels()).find((m) => m.id === "broken");
    expect(failed?.state).toBe("failed");
    // Models still serve.
    const ok = await client.completions.create({ model: "tiny-q4", prompt: "Once", max_tokens: 2 });
    expect(ok.usage?.completion_tokens).toBe(2);

    const unknown = await api("/v1/admin/models", { json: { id: "never-declared" } });
    expect(unknown.status).toBe(404);
    const extra = await api("/v1/admin/models", { json: { id: "x", path: "/x.gguf", colour: "red" } });
    expect(extra.status).toBe(400);
  });
});

describe("the response cache", () => {
  const body: OpenAI.ChatCompletionCreateParamsNonStreaming = {
    model: "tiny-llama",
    messages: [{ role: "user", content: "What is a shock wave?" }],
    max_tokens: 8,
    temperature: 0,
  };

  it("answers a repeated greedy request from the cache, and stays out when asked", async () => {
    const a = await api("/v1/chat/completions", { json: body });
    const b = await api("/v1/chat/completions", { json: body });
    expect(a.headers.get("x-sloughgpt-cache")).toBe("miss");
    expect(b.headers.get("x-sloughgpt-cache")).toBe("hit");
    expect(b.body.choices).toEqual(a.body.choices);
    expect(b.body.usage.completion_tokens).toBe(a.body.usage.completion_tokens);

    const bypass = await api("/v1/chat/completions", {
      json: body,
      headers: { "cache-control": "no-cache" },
    });
    expect(bypass.headers.get("x-sloughgpt-cache")).toBe("skip");
    expect(bypass.body.choices).toEqual(a.body.choices);
    const sampled = await api("/v1/chat/completions", { json: { ...body, temperature: 0.8, seed: 1 } });
    expect(sampled.headers.get("x-sloughgpt-cache")).toBe("skip");

    const text = await metrics();
    expect(
      metric(text, "sloughgpt_serving_response_cache_requests_total", {
        model: "tiny-llama",
        result: "hit",
        tier: "memory",
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it("streams a cached answer like a generated one", async () => {
    const stream = await client.chat.completions.create({ ...body, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    const whole = await client.chat.completions.create(body);
    expect(text).toBe(whole.choices[0]?.message.content);
  });
});

describe("generation features through the gateway", () => {
  it("reports reused prompt tokens of a continued conversation", async () => {
    const first = [{ role: "user" as const, content: "Describe the flow over a flat plate." }];
    const noCache = { headers: { "cache-control": "no-cache" } };
    const a = await client.chat.completions.create(
      { model: "tiny-llama", messages: first, max_tokens: 6 },
      noCache,
    );
    const b = await client.chat.completions.create(
      {
        model: "tiny-llama",
        messages: [
          ...first,
          { role: "assistant", content: a.choices[0]?.message.content ?? "" },
          { role: "user", content: "And at higher speed?" },
        ],
        max_tokens: 6,
      },
      noCache,
    );
    expect(b.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThanOrEqual(a.usage?.prompt_tokens ?? 1);
    expect(
      metric(await metrics(), "sloughgpt_serving_prefix_cache_hits_total", { model: "tiny-llama" }),
    ).toBeGreaterThan(0);
  });

  it("returns JSON matching a json_schema response_format", async () => {
    const res = await client.chat.completions.create({
      model: "tiny-llama",
      messages: [{ role: "user", content: "Give me a reading." }],
      max_tokens: 64,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "reading",
          schema: {
            type: "object",
            properties: { mach: { type: "number" }, supersonic: { type: "boolean" } },
            required: ["mach", "supersonic"],
          },
        },
      },
    });
    expect(res.choices[0]?.finish_reason).toBe("stop");
    const value = JSON.parse(res.choices[0]?.message.content ?? "") as Record<string, unknown>;
    expect(typeof value.mach).toBe("number");
    expect(typeof value.supersonic).toBe("boolean");
  });

  it("refuses logprobs and out-of-range penalties with a 400 naming the parameter", async () => {
    for (const [extra, param] of [
      [{ logprobs: true }, "logprobs"],
      [{ presence_penalty: 3 }, "presence_penalty"],
    ] as const) {
      const r = await api("/v1/chat/completions", { json: { ...body(), ...extra } });
      expect(r.status).toBe(400);
      expect(r.body.error.param).toBe(param);
    }
  });
});

describe("engine crash isolation", () => {
  it("fails the streams of a dead engine with an error, restarts it, and keeps serving", async () => {
    const servingPid = platform.supervisor.pid("serving") as number;
    const engines = async () =>
      (await readFile(`/proc/${servingPid}/task/${servingPid}/children`, "utf8"))
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    const before = await engines();
    expect(before.length).toBeGreaterThanOrEqual(1);

    const stream = await client.chat.completions.create(
      {
        model: "tiny-llama",
        messages: [{ role: "user", content: "Tell me a long story" }],
        max_tokens: 150,
        stream: true,
      },
      { headers: { "cache-control": "no-cache" } },
    );
    let killed = false;
    const outcome = await (async () => {
      try {
        for await (const _ of stream) {
          if (!killed) {
            killed = true;
            for (const pid of before) process.kill(pid, "SIGABRT");
          }
        }
        return "completed";
      } catch (err) {
        return err;
      }
    })();
    // The stream had started (200), so the failure arrives as an OpenAI error event in it.
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/engine process .* exited \(SIGABRT\)/);

    const after = await client.chat.completions.create(
      { model: "tiny-llama", messages: [{ role: "user", content: "Still there?" }], max_tokens: 4 },
      { headers: { "cache-control": "no-cache" } },
    );
    expect(after.usage?.completion_tokens).toBe(4);
    expect(platform.exits.filter((e) => e.name === "serving")).toEqual([]);
    expect(
      metric(await metrics(), "sloughgpt_serving_engine_restarts_total", { model: "tiny-llama" }),
    ).toBeGreaterThanOrEqual(1);
    // The failed request is in the usage ledger as an error, with what it generated before the crash.
    const errors = async () =>
      ((await api("/v1/usage?group_by=model")).body.data as Json[]).find((r) => r.model === "tiny-llama")
        ?.error_requests ?? 0;
    for (let i = 0; i < 40 && (await errors()) < 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await errors()).toBeGreaterThanOrEqual(1);
  });
});

function body() {
  return { model: "tiny-llama", messages: [{ role: "user", content: "x" }], max_tokens: 2 };
}
