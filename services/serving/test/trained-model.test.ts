import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { jest } from "@jest/globals";
import { validateLlamaGguf } from "@sloughgpt/gguf";
import type { Llama } from "node-llama-cpp";

// The reference trainer (Python + PyTorch, CPU) trains a short single-process run and converts its
// safetensors export to GGUF with the workspace converter, and llama.cpp loads it: the vocabulary the trainer trained on is the
// one llama.cpp tokenizes with. Needs /usr/bin/python3 with torch (.ci/run installs python3-torch).
jest.setTimeout(120_000);

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const TRAINER = "services/training-controller/trainer/train.py";
const GENERATE = "services/training-controller/trainer/generate.py";

let dir: string;
let llama: Llama;
let trainerLog: Array<Record<string, unknown>>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "trained-model-"));
  const { stdout } = await run(PYTHON, [
    TRAINER,
    "--steps=80",
    `--checkpoint-dir=${path.join(dir, "ckpt")}`,
    `--gguf=${path.join(dir, "model.gguf")}`,
  ]);
  trainerLog = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const { getLlama } = await import("node-llama-cpp");
  llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
});

afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("a model trained by the reference trainer", () => {
  test("learned: the held-out loss at the end is well below the loss at the start", () => {
    const finished = trainerLog.find((e) => e.event === "finished");
    expect(finished).toMatchObject({ step: 80 });
    expect(Number(finished?.final_eval_loss)).toBeLessThan(Number(finished?.initial_eval_loss) - 1);
  });

  test("is a valid llama GGUF with the byte-level vocabulary", async () => {
    const info = await validateLlamaGguf(path.join(dir, "model.gguf"));
    expect(info.llama).toMatchObject({ embeddingLength: 64, blockCount: 2, headCount: 4 });
    expect(info.metadata["tokenizer.ggml.tokens"]?.value).toHaveLength(260);
    expect(info.metadata["general.description"]?.value).toMatch(/80 steps, held-out loss/);
  });

  test("loads in llama.cpp, tokenizes as the trainer did and generates what the PyTorch model generates", async () => {
    const { LlamaCompletion } = await import("node-llama-cpp");
    const model = await llama.loadModel({ modelPath: path.join(dir, "model.gguf") });
    try {
      // llama.cpp adds the leading space; "▁" (259) is a space, every other byte b is b + 3.
      expect(model.tokenize("a b")).toEqual([259, 100, 259, 101]);
      const context = await model.createContext({ contextSize: 256, threads: 1 });
      const text = await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion(
        "The miller and the",
        { maxTokens: 16, temperature: 0 },
      );
      expect(text.length).toBeGreaterThan(10);
      // The same greedy continuation from the PyTorch model: the export keeps the architecture exactly
      // (RoPE pairing, norms, SwiGLU, tensor orientation). Kept short: float differences between the two
      // can flip a near-tie after a few dozen tokens. node-llama-cpp drops the first token's space.
      const { stdout } = await run(PYTHON, [
        GENERATE,
        `--checkpoint-dir=${path.join(dir, "ckpt")}`,
        "--prompt=The miller and the",
        "--max-tokens=16",
      ]);
      expect(text.trimStart()).toBe((JSON.parse(stdout) as { text: string }).text.trimStart());
      const corpus = await readFile("services/training-controller/trainer/corpus/fables.txt", "utf8");
      const alphabet = new Set(corpus);
      expect([...text].filter((ch) => !alphabet.has(ch))).toEqual([]);
    } finally {
      await model.dispose();
    }
  });
});
