import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { buildTinyLlama, kv, writeGgufFile } from "@sloughgpt/gguf";
import { createLogger, InvalidArgumentError } from "@sloughgpt/runtime";
import { REPO_ROOT, tinyModelPath } from "@sloughgpt/testing";
import type { GenerateParams } from "../src/engine/engine.js";
import { LlamaEngine } from "../src/engine/llama-engine.js";

jest.setTimeout(60_000);

const logger = createLogger({ service: "test", level: "silent" });
let engine: LlamaEngine;

const params = (over: Partial<GenerateParams> = {}): GenerateParams => ({
  model: "tiny",
  input: { kind: "chat", messages: [{ role: "user", content: "hello" }] },
  maxTokens: 8,
  stop: [],
  ...over,
});

async function run(p: GenerateParams, signal = new AbortController().signal) {
  let text = "";
  const result = await engine.generate(p, {
    signal,
    onDelta: (d) => {
      text += d;
    },
  });
  return { text, ...result };
}

beforeAll(async () => {
  engine = await LlamaEngine.load({
    modelPath: await tinyModelPath(),
    modelId: "tiny",
    threads: 1,
    sequences: 2,
    contextSize: 256,
    gpu: "false",
    gpuLayers: 0,
    maxQueue: 8,
    logger,
  });
});

afterAll(async () => {
  await engine?.close();
});

describe("LlamaEngine on the tiny model", () => {
  it("describes the loaded model: context size, quantization, engine and chat template", () => {
    expect(engine.info).toEqual(
      expect.objectContaining({
        id: "tiny",
        contextSize: 256,
        quantization: "F16",
        engine: "llama",
        // The tiny model has no tokenizer.chat_template: the documented default applies.
        chatTemplate: "chatml",
      }),
    );
  });

  it("generates the same text twice under greedy sampling, counting tokens", async () => {
    const a = await run(params());
    const b = await run(params());
    expect(a.text.length).toBeGreaterThan(0);
    expect(b.text).toBe(a.text);
    expect(a).toMatchObject({ finishReason: "length", completionTokens: 8 });
    expect(a.promptTokens).toBeGreaterThan(0);
  });

  it("continues a raw prompt", async () => {
    const r = await run(params({ input: { kind: "prompt", prompt: "Once upon a time" }, maxTokens: 4 }));
    expect(r.completionTokens).toBe(4);
  });

  it("serves more concurrent requests than sequences by queueing them", async () => {
    const results = await Promise.all(Array.from({ length: 5 }, () => run(params({ maxTokens: 6 }))));
    expect(results.map((r) => r.completionTokens)).toEqual([6, 6, 6, 6, 6]);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
    expect([engine.running, engine.queued]).toEqual([0, 0]);
  });

  it("stops a generation when its signal aborts and frees the sequence", async () => {
    const ctl = new AbortController();
    let deltas = 0;
    const r = await engine.generate(params({ maxTokens: 150 }), {
      signal: ctl.signal,
      onDelta: () => {
        deltas += 1;
        if (deltas === 2) ctl.abort();
      },
    });
    expect(r.finishReason).toBe("cancelled");
    expect(r.completionTokens).toBeLessThan(150);
    expect(engine.running).toBe(0);
  });

  it("embeds inputs as unit vectors, deterministically and in order", async () => {
    const signal = new AbortController().signal;
    const a = await engine.embed(["shock wave", "boundary layer"], { signal });
    const b = await engine.embed(["boundary layer"], { signal });
    expect(a.vectors).toHaveLength(2);
    expect(Math.hypot(...(a.vectors[0] ?? []))).toBeCloseTo(1, 5);
    expect(b.vectors[0]).toEqual(a.vectors[1]);
    expect(a.promptTokens).toBeGreaterThan(b.promptTokens);
    await expect(engine.embed(["word ".repeat(400)], { signal })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it("tokenizes: one offset per model token, ascending, words starting where their tokens do", async () => {
    const signal = new AbortController().signal;
    const text = "Once upon a time, the shock wave met the boundary layer.\n\nIt separated.";
    const {
      starts: [starts = []],
    } = await engine.tokenize([text], { signal });
    const counted = await engine.embed([text], { signal });
    expect(starts).toHaveLength(counted.promptTokens);
    expect(starts[0]).toBe(0);
    // A word-start marker before the first word has no text of its own: offsets never decrease.
    for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThanOrEqual(starts[i - 1] ?? 0);
    for (const word of ["upon", "shock", "boundary", "separated"])
      expect(starts).toContain(text.indexOf(word) - 1);
    // Cutting the text at the offsets and tokenizing a prefix gives the same tokens as the whole.
    const cut = starts[Math.floor(starts.length / 2)] ?? 0;
    const prefix = await engine.tokenize([text.slice(0, cut)], { signal });
    expect(prefix.starts[0]).toEqual(starts.slice(0, prefix.starts[0]?.length));
  });

  it("rejects a max_tokens beyond the context", async () => {
    await expect(run(params({ maxTokens: 256 }))).rejects.toBeInstanceOf(InvalidArgumentError);
    const long = params({ input: { kind: "prompt", prompt: "word ".repeat(300) }, maxTokens: 8 });
    await expect(run(long)).rejects.toMatchObject({ reason: "context_length_exceeded" });
  });

  it("without max_tokens, generates only what the context has room for", async () => {
    const r = await run(
      params({ input: { kind: "prompt", prompt: "word ".repeat(200) }, maxTokens: undefined }),
    );
    expect(r.promptTokens + r.completionTokens).toBeLessThanOrEqual(256);
    expect(r.completionTokens).toBeGreaterThan(0);
  });
});

describe("prefix reuse", () => {
  it("evaluates only the new turn of a conversation that extends an earlier one", async () => {
    const first = [{ role: "user" as const, content: "Tell me about shock waves in supersonic flow." }];
    const a = await run(params({ input: { kind: "chat", messages: first }, maxTokens: 6 }));
    const second = [
      ...first,
      { role: "assistant" as const, content: a.text },
      { role: "user" as const, content: "And boundary layers?" },
    ];
    const b = await run(params({ input: { kind: "chat", messages: second }, maxTokens: 6 }));
    expect(a.cachedTokens).toBeLessThan(a.promptTokens);
    // The whole first prompt is shared; the evaluated part is at most the answer and the new turn.
    expect(b.cachedTokens).toBeGreaterThanOrEqual(a.promptTokens - 1);
    expect(b.promptTokens).toBeGreaterThan(a.promptTokens);
    expect(engine.prefixStats.hits).toBeGreaterThan(0);
  });

  it("gives the same greedy text with and without a reused prefix", async () => {
    const prompt = { kind: "prompt" as const, prompt: "The boundary layer thickness grows" };
    const cold = await run(
      params({ input: { kind: "prompt", prompt: "unrelated words first" }, maxTokens: 2 }),
    );
    expect(cold.completionTokens).toBe(2);
    const a = await run(params({ input: prompt, maxTokens: 8 }));
    const b = await run(params({ input: prompt, maxTokens: 8 }));
    expect(b.cachedTokens).toBeGreaterThan(0);
    expect(b.text).toBe(a.text);
    // Usage counts the prompt, however much of it was reused (not the earlier answer it shares).
    expect(b.promptTokens).toBe(a.promptTokens);
    expect(b.cachedTokens).toBeLessThanOrEqual(b.promptTokens);
  });
});

describe("sampling controls", () => {
  it("constrains output to a JSON schema", async () => {
    const schema = {
      type: "object",
      properties: { ok: { type: "boolean" }, n: { type: "integer" } },
      required: ["ok", "n"],
      additionalProperties: false,
    };
    const r = await run(params({ maxTokens: 64, responseFormat: { type: "json_schema", schema } }));
    expect(r.finishReason).toBe("stop");
    const value = JSON.parse(r.text) as { ok: unknown; n: unknown };
    expect(typeof value.ok).toBe("boolean");
    expect(Number.isInteger(value.n)).toBe(true);
    expect(Object.keys(value).sort()).toEqual(["n", "ok"]);
  });

  it("constrains output to JSON for json_object", async () => {
    const r = await run(params({ maxTokens: 96, responseFormat: { type: "json_object" } }));
    if (r.finishReason === "stop") expect(() => JSON.parse(r.text)).not.toThrow();
    expect(r.text.trimStart().startsWith("{") || r.text.trimStart().startsWith("[")).toBe(true);
  });

  it("refuses a schema the grammar compiler cannot handle, by parameter", async () => {
    await expect(
      run(params({ responseFormat: { type: "json_schema", schema: { oneOf: 5 } } })),
    ).rejects.toMatchObject({ name: "InvalidArgumentError", param: "response_format" });
  });

  it("applies top_k and penalties: top_k=1 is greedy, a frequency penalty changes greedy text", async () => {
    const base = await run(params({ maxTokens: 24 }));
    const k1 = await run(params({ maxTokens: 24, temperature: 1, topK: 1, seed: 7 }));
    expect(k1.text).toBe(base.text);
    const penalized = await run(params({ maxTokens: 24, frequencyPenalty: 2, presencePenalty: 2 }));
    expect(penalized.completionTokens).toBeGreaterThan(0);
    expect(penalized.text).not.toBe(base.text);
  });
});

describe("chat templates", () => {
  it("uses the template the GGUF carries", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "templated-"));
    const modelPath = path.join(dir, "templated.gguf");
    const base = buildTinyLlama();
    const template =
      "{% for message in messages %}<<{{ message['role'] }}>> {{ message['content'] }}\n{% endfor %}" +
      "{% if add_generation_prompt %}<<assistant>> {% endif %}";
    await writeGgufFile(modelPath, {
      ...base,
      metadata: { ...base.metadata, "tokenizer.chat_template": kv.string(template) },
    });
    const e = await LlamaEngine.load({
      modelPath,
      modelId: "templated",
      threads: 1,
      sequences: 1,
      contextSize: 256,
      gpu: "false",
      gpuLayers: 0,
      maxQueue: 2,
      logger,
    });
    try {
      expect(e.info.chatTemplate).toBe("jinja");
      const r = await e.generate(params({ model: "templated", maxTokens: 4 }), {
        signal: new AbortController().signal,
        onDelta: () => undefined,
      });
      // "<<user>> hello\n<<assistant>> " and BOS: more tokens than the bare message.
      expect(r.promptTokens).toBeGreaterThan(10);
      expect(r.completionTokens).toBe(4);
    } finally {
      await e.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("continuous batching", () => {
  it("runs 16 concurrent requests on 4 sequences, never more than 4 at once, and refuses past the queue", async () => {
    const e = await LlamaEngine.load({
      modelPath: await tinyModelPath(),
      modelId: "tiny",
      threads: 1,
      sequences: 4,
      contextSize: 256,
      gpu: "false",
      gpuLayers: 0,
      maxQueue: 12,
      logger,
    });
    try {
      let maxRunning = 0;
      const signal = new AbortController().signal;
      const one = () =>
        e.generate(params({ maxTokens: 16 }), {
          signal,
          onDelta: () => {
            maxRunning = Math.max(maxRunning, e.running);
          },
        });
      // 4 decode, 12 wait, the 17th is refused at once.
      const all = Array.from({ length: 17 }, one);
      const settled = await Promise.allSettled(all);
      const rejected = settled.filter((r) => r.status === "rejected");
      expect(rejected).toHaveLength(1);
      expect((rejected[0] as PromiseRejectedResult).reason).toMatchObject({ name: "ResourceExhaustedError" });
      const done = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      expect(done.map((r) => r.completionTokens)).toEqual(Array(16).fill(16));
      expect(maxRunning).toBe(4);
      expect([e.running, e.queued]).toEqual([0, 0]);
    } finally {
      await e.close();
    }
  });
});

describe("closing the engine", () => {
  it("stops running generations before disposing, and refuses new ones", async () => {
    const e = await LlamaEngine.load({
      modelPath: await tinyModelPath(),
      modelId: "tiny",
      threads: 1,
      sequences: 1,
      contextSize: 256,
      gpu: "false",
      gpuLayers: 0,
      maxQueue: 2,
      logger,
    });
    let started!: () => void;
    const firstDelta = new Promise<void>((r) => {
      started = r;
    });
    const running = e.generate(params({ maxTokens: 150 }), {
      signal: new AbortController().signal,
      onDelta: () => started(),
    });
    await firstDelta;
    await e.close();
    const r = await running;
    expect(r.finishReason).toBe("cancelled");
    expect(r.completionTokens).toBeLessThan(150);
    await expect(
      e.generate(params(), { signal: new AbortController().signal, onDelta: () => undefined }),
    ).rejects.toMatchObject({
      name: "UnavailableError",
    });
  });
});

describe("serving start-up", () => {
  it("refuses a bad configuration value by name", async () => {
    const { code, output } = await runServing({ MODEL_PATH: "/x.gguf", LLAMA_SEQUENCES: "zero" });
    expect(code).toBe(78);
    expect(output).toMatch(/LLAMA_SEQUENCES/);
  });
});

function runServing(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ["--import", "tsx", "services/serving/src/main.ts"], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        NATS_URL: "nats://127.0.0.1:4222",
        NATS_NAMESPACE: "tbadmodel",
        GRPC_PORT: "0",
        ...env,
      },
    });
    let output = "";
    proc.stdout.on("data", (d: Buffer) => (output += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
    proc.on("exit", (code) => resolve({ code, output }));
  });
}
