import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { createLogger } from "@sloughgpt/runtime";
import { tinyModelPath } from "@sloughgpt/testing";
import type { GenerateParams } from "../src/engine/engine.js";
import { type EngineProcessOptions, ProcessBackend } from "../src/engine/process-backend.js";

jest.setTimeout(60_000);

const logger = createLogger({ service: "test", level: "silent" });

const params = (over: Partial<GenerateParams> = {}): GenerateParams => ({
  model: "tiny",
  input: { kind: "prompt", prompt: "Once upon a time" },
  maxTokens: 8,
  stop: [],
  ...over,
});

async function options(over: Partial<EngineProcessOptions> = {}): Promise<EngineProcessOptions> {
  return {
    modelPath: await tinyModelPath(),
    modelId: "tiny",
    threads: 1,
    sequences: 2,
    contextSize: 256,
    gpu: "false",
    gpuLayers: 0,
    maxQueue: 8,
    ...over,
  };
}

const never = new AbortController().signal;

async function collect(b: ProcessBackend, p: GenerateParams, signal = never) {
  let text = "";
  const r = await b.generate(p, {
    signal,
    onDelta: (d) => {
      text += d;
    },
  });
  return { text, ...r };
}

describe("the llama.cpp engine in its own process", () => {
  let backend: ProcessBackend;
  const crashes: unknown[] = [];

  beforeAll(async () => {
    backend = await ProcessBackend.start(await options(), logger, { onCrash: (c) => crashes.push(c) });
  });

  afterAll(async () => {
    await backend?.close();
  });

  it("reports the model and generates, streaming deltas in order", async () => {
    expect(backend.info).toMatchObject({
      id: "tiny",
      engine: "llama",
      quantization: "F16",
      contextSize: 256,
    });
    expect(backend.pid).not.toBe(process.pid);
    const a = await collect(backend, params());
    const b = await collect(backend, params());
    expect(a).toMatchObject({ finishReason: "length", completionTokens: 8 });
    expect(b.text).toBe(a.text);
    const e = await backend.embed(["shock wave"], { signal: never });
    expect(Math.hypot(...(e.vectors[0] ?? []))).toBeCloseTo(1, 5);
    const t = await backend.tokenize(["shock wave", "a"], { signal: never });
    expect(t.starts).toHaveLength(2);
    expect(t.starts[0]?.length).toBe(e.promptTokens);
  });

  it("keeps engine errors' status and details across the process boundary", async () => {
    await expect(collect(backend, params({ maxTokens: 300 }))).rejects.toMatchObject({
      name: "InvalidArgumentError",
      reason: "context_length_exceeded",
    });
  });

  it("cancels a request in the engine when its signal aborts", async () => {
    const ctl = new AbortController();
    let deltas = 0;
    const r = await backend.generate(params({ maxTokens: 150 }), {
      signal: ctl.signal,
      onDelta: () => {
        deltas += 1;
        if (deltas === 2) ctl.abort();
      },
    });
    expect(r.finishReason).toBe("cancelled");
    expect(r.completionTokens).toBeLessThan(150);
    expect(backend.running).toBe(0);
  });

  it("fails in-flight requests with UNAVAILABLE when the engine dies, restarts it, and serves again", async () => {
    const before = backend.pid;
    let started!: () => void;
    const firstDelta = new Promise<void>((r) => {
      started = r;
    });
    const inflight = backend.generate(params({ maxTokens: 150 }), {
      signal: never,
      onDelta: () => started(),
    });
    // The second sequence's request is in the engine too, and fails the same way.
    const second = backend
      .generate(params({ maxTokens: 150 }), { signal: never, onDelta: () => undefined })
      .catch((e: unknown) => e);
    await firstDelta;
    // What llama.cpp's GGML_ASSERT does: abort().
    process.kill(before as number, "SIGABRT");
    await expect(inflight).rejects.toMatchObject({
      name: "UnavailableError",
      message: expect.stringMatching(/SIGABRT/),
    });
    // A request that arrives while the engine restarts waits for it instead of failing.
    const after = await collect(backend, params());
    expect(after.completionTokens).toBe(8);
    expect(backend.pid).not.toBe(before);
    expect(backend.restarts).toBe(1);
    expect(crashes).toEqual([{ code: null, signal: "SIGABRT" }]);
    expect(await second).toMatchObject({ name: "UnavailableError" });
  });
});

describe("deltas sent together", () => {
  it("streams the first token on its own and the rest joined, the same text, counted token by token", async () => {
    const ref = await ProcessBackend.start(await options({ streamIntervalMs: 0 }), logger);
    // An interval far longer than the generation: everything after the first delta waits for the end.
    const held = await ProcessBackend.start(await options({ streamIntervalMs: 60_000 }), logger);
    try {
      const p = params({ maxTokens: 24 });
      const whole = await collect(ref, p);
      const deltas: { text: string; tokens: number | undefined }[] = [];
      const r = await held.generate(p, {
        signal: never,
        onDelta: (text, tokens) => void deltas.push({ text, tokens }),
      });
      expect(r).toMatchObject({ finishReason: "length", completionTokens: 24 });
      expect(deltas.map((d) => d.text).join("")).toBe(whole.text);
      expect(deltas.length).toBeGreaterThan(1);
      expect(deltas.length).toBeLessThan(24);
      expect(deltas[0]?.tokens).toBe(1);
      expect(deltas.reduce((n, d) => n + (d.tokens ?? 1), 0)).toBe(24);
    } finally {
      await Promise.all([ref.close(), held.close()]);
    }
  });
});

describe("loading failures", () => {
  it("rejects a malformed file with a message naming the problem, before llama.cpp sees it", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "bad-gguf-"));
    try {
      const bad = path.join(dir, "bad.gguf");
      await copyFile(await tinyModelPath(), bad);
      await truncate(bad, (await readFile(bad)).length - 1000);
      const notGguf = path.join(dir, "text.gguf");
      await writeFile(notGguf, "this is not a model");
      await expect(ProcessBackend.start(await options({ modelPath: bad }), logger)).rejects.toThrow(
        /truncat/i,
      );
      await expect(ProcessBackend.start(await options({ modelPath: notGguf }), logger)).rejects.toThrow(
        /magic/i,
      );
      await expect(
        ProcessBackend.start(await options({ modelPath: path.join(dir, "missing.gguf") }), logger),
      ).rejects.toMatchObject({
        name: "InvalidArgumentError",
        reason: "invalid_model_file",
        message: /no such file/,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a file whose quantization differs from the declared one", async () => {
    await expect(ProcessBackend.start(await options({ quantization: "Q4_0" }), logger)).rejects.toMatchObject(
      {
        name: "FailedPreconditionError",
        message: expect.stringMatching(/F16.*Q4_0/),
      },
    );
  });
});
