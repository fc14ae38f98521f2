import { randomUUID } from "node:crypto";
import { type Bus, publish, subjects } from "@sloughgpt/bus";
import { serving } from "@sloughgpt/proto";
import { type Logger, type Metrics, serverStream, unary } from "@sloughgpt/runtime";
import { z } from "zod";
import type { Engine, FinishReason, GenerateParams } from "./engine/engine.js";
import type { ServingMetrics } from "./metrics.js";

const chatTurn = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

const generateRequest = z.object({
  model: z.string().min(1, "model is required"),
  input: z.discriminatedUnion(
    "$case",
    [
      z.object({ $case: z.literal("chat"), chat: z.object({ messages: z.array(chatTurn).min(1) }) }),
      z.object({ $case: z.literal("prompt"), prompt: z.string() }),
    ],
    { error: "input is required: chat messages or a prompt" },
  ),
  maxTokens: z.number().int().min(0),
  temperature: z.number().min(0).max(2).optional(),
  topP: z.number().gt(0).max(1).optional(),
  seed: z.number().int().optional(),
  stop: z.array(z.string().min(1)).max(4),
  keyId: z.string(),
  requestId: z.string(),
});

export function toGenerateParams(req: z.infer<typeof generateRequest>): GenerateParams {
  return {
    model: req.model,
    input:
      req.input.$case === "chat"
        ? { kind: "chat", messages: req.input.chat.messages }
        : { kind: "prompt", prompt: req.input.prompt },
    maxTokens: req.maxTokens || undefined,
    temperature: req.temperature,
    topP: req.topP,
    seed: req.seed,
    stop: req.stop,
  };
}

const FINISH: Record<FinishReason, serving.FinishReason> = {
  stop: serving.FinishReason.FINISH_REASON_STOP,
  length: serving.FinishReason.FINISH_REASON_LENGTH,
  cancelled: serving.FinishReason.FINISH_REASON_CANCELLED,
};

const embedRequest = z.object({
  model: z.string().min(1, "model is required"),
  input: z.array(z.string().min(1, "inputs must not be empty")).min(1, "input is required").max(2048),
  keyId: z.string(),
  requestId: z.string(),
});

export function servingHandlers(deps: {
  engine: Engine;
  bus: Bus;
  logger: Logger;
  metrics: Metrics;
  serving: ServingMetrics;
}) {
  const m = deps.serving;
  const env = { logger: deps.logger, metrics: deps.metrics, service: "ServingService" };

  // One usage event per request, published after the response is complete so a slow NATS never
  // delays a client; retries reuse the msgId, so JetStream stores it once. drainUsage() awaits them.
  const pending = new Set<Promise<void>>();
  const meter = (u: {
    req: { model: string; keyId: string; requestId: string };
    usage: { promptTokens: number; completionTokens: number };
    latencyMs: number;
    status: "ok" | "cancelled";
    logger: Logger;
  }) => {
    const id = randomUUID();
    const event = {
      id,
      model: u.req.model,
      keyId: u.req.keyId,
      requestId: u.req.requestId,
      ...u.usage,
      latencyMs: u.latencyMs,
      status: u.status,
      finishedAt: new Date().toISOString(),
    };
    const p = publishWithRetry(() => publish(deps.bus, subjects.usageGeneration, event, { msgId: id })).catch(
      (err: unknown) =>
        u.logger.error({ err, requestId: u.req.requestId, usageId: id }, "Failed to publish usage event"),
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  const generate = serverStream<serving.GenerateRequest, serving.GenerateResponse>(
    env,
    "Generate",
    async (raw, write, ctx) => {
      const req = generateRequest.parse(raw);
      const started = performance.now();
      let firstAt = 0;
      const result = await deps.engine
        .generate(toGenerateParams(req), {
          signal: ctx.signal,
          onDelta: (text) => {
            if (!text) return;
            if (!firstAt) {
              firstAt = performance.now();
              m.timeToFirstToken.observe({ model: req.model }, (firstAt - started) / 1000);
            }
            return write({ event: { $case: "delta", delta: text } });
          },
        })
        .catch((err: unknown) => {
          m.requests.inc({ model: req.model, operation: "generate", status: "error" });
          throw err;
        });
      const ended = performance.now();
      m.requests.inc({ model: req.model, operation: "generate", status: result.finishReason });
      m.promptTokens.inc({ model: req.model }, result.promptTokens);
      m.generatedTokens.inc({ model: req.model }, result.completionTokens);
      m.requestDuration.observe({ model: req.model, operation: "generate" }, (ended - started) / 1000);
      if (firstAt && result.completionTokens > 1) {
        m.timePerOutputToken.observe(
          { model: req.model },
          (ended - firstAt) / 1000 / (result.completionTokens - 1),
        );
      }
      const usage = { promptTokens: result.promptTokens, completionTokens: result.completionTokens };
      if (!ctx.signal.aborted) {
        await write({
          event: { $case: "final", final: { finishReason: FINISH[result.finishReason], usage } },
        });
      }
      meter({
        req,
        usage,
        latencyMs: ended - started,
        status: result.finishReason === "cancelled" ? "cancelled" : "ok",
        logger: ctx.logger,
      });
    },
  );

  const listModels = unary<serving.ListModelsRequest, serving.ListModelsResponse>(
    env,
    "ListModels",
    async () => ({
      models: deps.engine.models().map((m) => ({
        id: m.id,
        ownedBy: "sloughgpt",
        createdUnix: m.createdUnix,
        contextSize: m.contextSize,
        quantization: m.quantization,
      })),
    }),
  );

  const embed = unary<serving.EmbedRequest, serving.EmbedResponse>(env, "Embed", async (raw, ctx) => {
    const req = embedRequest.parse(raw);
    const started = performance.now();
    const result = await deps.engine
      .embed(req.model, req.input, { signal: ctx.signal })
      .catch((err: unknown) => {
        m.requests.inc({ model: req.model, operation: "embed", status: "error" });
        throw err;
      });
    m.requests.inc({ model: req.model, operation: "embed", status: "ok" });
    m.promptTokens.inc({ model: req.model }, result.promptTokens);
    meter({
      req,
      usage: { promptTokens: result.promptTokens, completionTokens: 0 },
      latencyMs: performance.now() - started,
      status: "ok",
      logger: ctx.logger,
    });
    return { embeddings: result.vectors.map((values) => ({ values })), promptTokens: result.promptTokens };
  });

  const impl: serving.ServingServiceServer = { generate, listModels, embed };
  return { impl, drainUsage: () => Promise.allSettled([...pending]).then(() => undefined) };
}

async function publishWithRetry(fn: () => Promise<void>, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
  }
}
