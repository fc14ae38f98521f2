import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Llama } from "node-llama-cpp";
import { validateLlamaGguf } from "./llama-validate.js";
import { buildTinyLlama, type TinyLlamaTensorType } from "./tiny-llama.js";
import { writeGgufFile } from "./writer.js";

// Loads the generated models with the real llama.cpp (CPU build, prebuilt binaries).
// One thread: llama.cpp's default thread count is far slower on small CI machines.
describe("generated models in llama.cpp", () => {
  let llama: Llama;
  let dir: string;

  beforeAll(async () => {
    const { getLlama } = await import("node-llama-cpp");
    llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
    dir = await mkdtemp(path.join(os.tmpdir(), "tiny-llama-"));
  });

  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test.each(["f32", "f16", "q8_0", "q4_0"] as const)(
    "loads the %s model and generates the same greedy text twice",
    async (tensorType: TinyLlamaTensorType) => {
      const { LlamaCompletion } = await import("node-llama-cpp");
      const modelPath = path.join(dir, `tiny-${tensorType}.gguf`);
      await writeGgufFile(modelPath, buildTinyLlama({ tensorType }));
      await validateLlamaGguf(modelPath);

      const model = await llama.loadModel({ modelPath });
      try {
        expect(model.fileInfo.metadata.general.architecture).toBe("llama");
        const context = await model.createContext({ sequences: 2, contextSize: 256, threads: 1 });
        const generate = (contextSequence: ReturnType<typeof context.getSequence>) =>
          new LlamaCompletion({ contextSequence }).generateCompletion("Once upon a time", {
            maxTokens: 24,
            temperature: 0,
          });
        const first = await generate(context.getSequence());
        const second = await generate(context.getSequence());

        expect(second).toBe(first);
        // Word pieces only: byte and control tokens never win, so no stray bytes or U+FFFD.
        expect(first).toMatch(/^[a-z ,.!?';:-]{20,}$/);
        expect(first.trim().split(/\s+/).length).toBeGreaterThan(5);
        await context.dispose();
      } finally {
        await model.dispose();
      }
    },
    30_000,
  );

  test("tokenizes text into the word pieces and byte fallbacks", async () => {
    const modelPath = path.join(dir, "tiny-tokenize.gguf");
    await writeGgufFile(modelPath, buildTinyLlama({ tensorType: "q8_0" }));
    const model = await llama.loadModel({ modelPath });
    try {
      const text = "the people said ünïcode!";
      const tokens = model.tokenize(text);
      expect(model.detokenize(tokens)).toBe(text);
      expect(tokens.length).toBeLessThan(text.length);
    } finally {
      await model.dispose();
    }
  });
});
