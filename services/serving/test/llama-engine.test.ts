import { spawn } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { createLogger, InvalidArgumentError, NotFoundError } from "@sloughgpt/runtime";
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
  it("lists the loaded model with its context size and quantization", () => {
    expect(engine.models()).toEqual([
      expect.objectContaining({ id: "tiny", contextSize: 256, quantization: "F16" }),
    ]);
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
    const r = await engine.generate(params({ maxTokens: 200 }), {
      signal: ctl.signal,
      onDelta: () => {
        deltas += 1;
        if (deltas === 2) ctl.abort();
      },
    });
    expect(r.finishReason).toBe("cancelled");
    expect(r.completionTokens).toBeLessThan(200);
    expect(engine.running).toBe(0);
  });

  it("embeds inputs as unit vectors, deterministically and in order", async () => {
    const signal = new AbortController().signal;
    const a = await engine.embed("tiny", ["shock wave", "boundary layer"], { signal });
    const b = await engine.embed("tiny", ["boundary layer"], { signal });
    expect(a.vectors).toHaveLength(2);
    expect(Math.hypot(...(a.vectors[0] ?? []))).toBeCloseTo(1, 5);
    expect(b.vectors[0]).toEqual(a.vectors[1]);
    expect(a.promptTokens).toBeGreaterThan(b.promptTokens);
    await expect(engine.embed("tiny", ["word ".repeat(400)], { signal })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(engine.embed("other", ["x"], { signal })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("rejects an unknown model and a max_tokens beyond the context", async () => {
    await expect(run(params({ model: "other" }))).rejects.toBeInstanceOf(NotFoundError);
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
    const running = e.generate(params({ maxTokens: 200 }), {
      signal: new AbortController().signal,
      onDelta: () => started(),
    });
    await firstDelta;
    await e.close();
    const r = await running;
    expect(r.finishReason).toBe("cancelled");
    expect(r.completionTokens).toBeLessThan(200);
    await expect(
      e.generate(params(), { signal: new AbortController().signal, onDelta: () => undefined }),
    ).rejects.toMatchObject({
      name: "UnavailableError",
    });
  });
});

describe("serving start-up with a malformed model", () => {
  it("exits 1 with a message naming the problem instead of letting llama.cpp abort", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "bad-gguf-"));
    try {
      const bad = path.join(dir, "bad.gguf");
      await copyFile(await tinyModelPath(), bad);
      await truncate(bad, (await readFile(bad)).length - 1000);
      const notGguf = path.join(dir, "text.gguf");
      await writeFile(notGguf, "this is not a model");
      for (const modelPath of [bad, notGguf]) {
        const { code, output } = await runServing({ MODEL_PATH: modelPath });
        expect(code).toBe(1);
        expect(output).toMatch(/GgufValidationError|Failed to start/);
        expect(output).toMatch(/truncat|magic/i);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

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
