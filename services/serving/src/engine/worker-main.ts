// The engine process: one LlamaEngine, driven by its parent (ProcessBackend) over the IPC channel.
// llama.cpp can abort the whole process on some inputs; here that takes down only this model's
// engine, and the parent fails its in-flight requests with UNAVAILABLE and starts a new one.
import { createLogger } from "@sloughgpt/runtime";
import { z } from "zod";
import { DeltaBatcher } from "./delta-batcher.js";
import { LlamaEngine } from "./llama-engine.js";
import { type FromWorker, type ToWorker, toWire } from "./worker-protocol.js";

const options = z
  .object({
    modelPath: z.string(),
    modelId: z.string(),
    threads: z.number(),
    sequences: z.number(),
    contextSize: z.number(),
    gpu: z.enum(["false", "auto", "cuda", "vulkan"]),
    gpuLayers: z.number(),
    maxQueue: z.number(),
    streamIntervalMs: z.number().default(0),
    quantization: z.string().optional(),
    logLevel: z.string().default("info"),
  })
  .parse(JSON.parse(process.env.SLOUGHGPT_ENGINE_OPTIONS ?? "null"));

const logger = createLogger({ service: "serving", level: options.logLevel as never }).child({
  component: "engine",
  model: options.modelId,
});

const send = (m: FromWorker) => {
  if (process.connected) process.send?.(m);
};

let engine: LlamaEngine;
try {
  engine = await LlamaEngine.load({ ...options, logger });
} catch (err) {
  send({ t: "load-failed", error: toWire(err) });
  process.disconnect?.();
  process.exit(1);
}

const deltas = new DeltaBatcher({
  intervalMs: options.streamIntervalMs,
  send: (items) => send({ t: "deltas", items }),
});
const running = new Map<number, AbortController>();

/** Runs one request that answers with a single message (or `failed`); `cancel` aborts it. */
function answer(id: number, run: (signal: AbortSignal) => Promise<FromWorker>): void {
  const ctl = new AbortController();
  running.set(id, ctl);
  run(ctl.signal)
    .then(send, (err: unknown) => send({ t: "failed", id, error: toWire(err) }))
    .finally(() => running.delete(id));
}
let closing = false;

async function close(code: number): Promise<never> {
  if (!closing) {
    closing = true;
    await engine.close().catch((err: unknown) => logger.error({ err }, "Engine close failed"));
  }
  process.exit(code);
}

process.on("message", (m: ToWorker) => {
  switch (m.t) {
    case "generate": {
      const ctl = new AbortController();
      running.set(m.id, ctl);
      engine
        .generate(m.params, { signal: ctl.signal, onDelta: (text) => deltas.add(m.id, text) })
        .finally(() => {
          running.delete(m.id);
          deltas.end(m.id);
        })
        .then(
          (result) => send({ t: "generated", id: m.id, result }),
          (err: unknown) => send({ t: "failed", id: m.id, error: toWire(err) }),
        );
      break;
    }
    case "embed":
      answer(m.id, (signal) =>
        engine.embed(m.inputs, { signal }).then((result) => ({ t: "embedded", id: m.id, result })),
      );
      break;
    case "tokenize":
      answer(m.id, (signal) =>
        engine.tokenize(m.inputs, { signal }).then((result) => ({ t: "tokenized", id: m.id, result })),
      );
      break;
    case "cancel":
      running.get(m.id)?.abort();
      break;
    case "close":
      void close(0);
      break;
  }
});

// The parent is gone (crashed or killed): nothing will read our answers.
process.on("disconnect", () => void close(0));
process.on("SIGTERM", () => void close(0));

send({ t: "ready", info: engine.info });
