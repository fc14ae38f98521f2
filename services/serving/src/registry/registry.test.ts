import { jest } from "@jest/globals";
import { createLogger, NotFoundError } from "@sloughgpt/runtime";
import type { GenerateParams, GenerateResult, ModelBackend } from "../engine/engine.js";
import { ModelRegistry } from "./registry.js";
import { type ModelSpec, parseModelSpec } from "./spec.js";

const logger = createLogger({ service: "test", level: "silent" });

/** A backend that records what happens to it; generation resolves when the test says so. */
class RecordingBackend implements ModelBackend {
  closed = false;
  calls = 0;
  release?: () => void;
  constructor(readonly spec: ModelSpec) {}
  get info() {
    return {
      id: this.spec.id,
      contextSize: 256,
      quantization: "F16",
      createdUnix: 1,
      engine: this.spec.engine,
      chatTemplate: "chatml",
    };
  }
  readonly running = 0;
  readonly queued = 0;
  async generate(): Promise<GenerateResult> {
    this.calls += 1;
    await new Promise<void>((r) => {
      this.release = r;
    });
    return { finishReason: "stop", promptTokens: 1, completionTokens: 1, cachedTokens: 0 };
  }
  async embed() {
    return { vectors: [[1]], promptTokens: 1 };
  }
  async tokenize(inputs: string[]) {
    return { starts: inputs.map(() => [0]) };
  }
  async close() {
    this.closed = true;
  }
}

const spec = (id: string, extra: object = {}) => parseModelSpec({ id, path: `/models/${id}.gguf`, ...extra });
const params = (model: string): GenerateParams => ({
  model,
  input: { kind: "prompt", prompt: "x" },
  stop: [],
});
const opts = { signal: new AbortController().signal, onDelta: () => undefined };

function registry(declared: ModelSpec[], failing = new Set<string>()) {
  const made: RecordingBackend[] = [];
  const loads: string[] = [];
  const r = new ModelRegistry(
    declared,
    async (s) => {
      loads.push(s.id);
      if (failing.has(s.id)) throw new Error(`cannot read ${s.id}`);
      const b = new RecordingBackend(s);
      made.push(b);
      return b;
    },
    logger,
  );
  return { r, made, loads };
}

afterEach(() => {
  jest.useRealTimers();
});

describe("ModelRegistry", () => {
  it("loads declared models at start and lists them as loaded", async () => {
    const { r, loads } = registry([spec("a"), spec("b")]);
    await r.start();
    expect(loads).toEqual(["a", "b"]);
    expect(r.models().map((m) => [m.id, m.state])).toEqual([
      ["a", "loaded"],
      ["b", "loaded"],
    ]);
  });

  it("keeps serving when a declared model fails, lists it failed, and does not retry on every request", async () => {
    const { r, loads } = registry([spec("good"), spec("bad")], new Set(["bad"]));
    await r.start();
    expect(r.models().find((m) => m.id === "bad")?.state).toBe("failed");
    await expect(r.generate(params("bad"), opts)).rejects.toMatchObject({
      name: "UnavailableError",
      reason: "model_load_failed",
    });
    expect(loads.filter((id) => id === "bad")).toHaveLength(1);
  });

  it("refuses an unknown model with model_not_found", async () => {
    const { r } = registry([]);
    await expect(r.generate(params("nope"), opts)).rejects.toBeInstanceOf(NotFoundError);
    await expect(r.embed("nope", ["x"], opts)).rejects.toMatchObject({ reason: "model_not_found" });
    await expect(r.unload("nope")).rejects.toBeInstanceOf(NotFoundError);
    await expect(r.load("nope")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("declares and loads a model at run time, and unloads it on request", async () => {
    const { r, made } = registry([]);
    const info = await r.load("c", spec("c"));
    expect(info).toMatchObject({ id: "c", state: "loaded" });
    // Loading again is a no-op; a different spec while loaded is refused.
    await r.load("c", spec("c"));
    expect(made).toHaveLength(1);
    await expect(r.load("c", spec("c", { sequences: 8 }))).rejects.toMatchObject({
      name: "FailedPreconditionError",
    });
    await r.unload("c");
    expect(made[0]?.closed).toBe(true);
    expect(r.models()).toEqual([]);
    await expect(r.generate(params("c"), opts)).rejects.toMatchObject({ reason: "model_not_found" });
  });

  it("unloads a model idle past its idleUnloadSeconds and loads it again on the next request", async () => {
    jest.useFakeTimers();
    const { r, made } = registry([spec("idle", { idleUnloadSeconds: 60 })]);
    await r.start();
    const first = made[0];
    jest.advanceTimersByTime(59_000);
    expect(r.models()[0]?.state).toBe("loaded");
    jest.advanceTimersByTime(2_000);
    expect(r.models()[0]?.state).toBe("idle");
    expect(first?.closed).toBe(true);
    // Still listed with its details while idle.
    expect(r.models()[0]).toMatchObject({ id: "idle", quantization: "F16" });

    const pending = r.generate(params("idle"), opts);
    await jest.advanceTimersByTimeAsync(0);
    expect(made).toHaveLength(2);
    expect(r.models()[0]?.state).toBe("loaded");
    // Never unloaded under a running request.
    jest.advanceTimersByTime(120_000);
    expect(made[1]?.closed).toBe(false);
    made[1]?.release?.();
    await pending;
    jest.advanceTimersByTime(61_000);
    expect(made[1]?.closed).toBe(true);
  });

  it("sums running and queued over loaded models and closes them all", async () => {
    const { r, made } = registry([spec("a"), spec("b")]);
    await r.start();
    expect([r.running, r.queued]).toEqual([0, 0]);
    expect(r.usage().map((u) => u.model)).toEqual(["a", "b"]);
    await r.close();
    expect(made.every((b) => b.closed)).toBe(true);
    await expect(r.load("a")).rejects.toMatchObject({ name: "UnavailableError" });
  });
});

describe("model specs", () => {
  it("fills defaults and accepts file:// URLs", () => {
    expect(parseModelSpec({ id: "m", path: "file:///models/m.gguf" })).toMatchObject({
      engine: "llama",
      path: "/models/m.gguf",
      sequences: 4,
      threads: 1,
      contextSize: 0,
      idleUnloadSeconds: 0,
    });
  });

  it.each([
    [{ id: "m", path: "https://example.com/m.gguf" }, "file path or a file:// URL"],
    [{ id: "bad id", path: "/m.gguf" }, "model ids"],
    [{ id: "m", path: "/m.gguf", quantization: "Q3_XS" }, "quantization"],
    [{ id: "m", engine: "openai-compatible", deployments: [] }, "deployments"],
    [{ id: "m", engine: "openai-compatible", deployments: [{ url: "ftp://x" }] }, "url"],
  ])("refuses %j", (raw, message) => {
    expect(() => parseModelSpec(raw)).toThrow(message);
  });
});
