import { status as GrpcStatus } from "@grpc/grpc-js";
import { serving } from "@sloughgpt/proto";
import { AppError, type Logger } from "@sloughgpt/runtime";
import { z } from "zod";
import { type CachedResponse, cacheKey, type ResponseCache, toCachedResponse } from "./cache/index.js";
import type { FinishReason, GenerateParams, GenerateResult, ResponseFormat } from "./engine/engine.js";
import type { ServingMetrics } from "./metrics.js";
import type { ModelRegistry } from "./registry/registry.js";
import type { UsageMeter, UsageRecord } from "./usage.js";

const chatTurn = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});

const responseFormat = z
  .object({ type: z.enum(["", "text", "json_object", "json_schema"]), jsonSchema: z.string() })
  .optional()
  .transform((f, ctx): ResponseFormat | undefined => {
    if (!f || f.type === "" || f.type === "text") return undefined;
    if (f.type === "json_object") return { type: "json_object" };
    let schema: unknown;
    try {
      schema = JSON.parse(f.jsonSchema);
    } catch {
      ctx.addIssue({ code: "custom", path: ["jsonSchema"], message: "json_schema must be a JSON object" });
      return z.NEVER;
    }
    if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
      ctx.addIssue({ code: "custom", path: ["jsonSchema"], message: "json_schema must be a JSON object" });
      return z.NEVER;
    }
    return { type: "json_schema", schema };
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
  topK: z.number().int().min(0).optional(),
  seed: z.number().int().optional(),
  presencePenalty: z.number().min(-2).max(2).optional(),
  frequencyPenalty: z.number().min(-2).max(2).optional(),
  responseFormat,
  stop: z.array(z.string().min(1)).max(4),
  cache: z.enum(serving.CacheMode).optional(),
  keyId: z.string(),
  team: z.string().default(""),
  requestId: z.string(),
  stream: z.boolean().optional(),
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
    topK: req.topK || undefined,
    seed: req.seed,
    presencePenalty: req.presencePenalty,
    frequencyPenalty: req.frequencyPenalty,
    responseFormat: req.responseFormat,
    stop: req.stop,
  };
}

/**
 * Passes an engine's deltas on to a Generate call (or holds them for a caller that does not stream)
 * and keeps what metrics, the response cache and metering need of them.
 */
class DeltaRelay {
  firstAt = 0;
  text = "";
  count = 0;
  private held = "";

  constructor(
    private readonly o: {
      started: number;
      keepText: boolean;
      incremental: boolean;
      write: (delta: string) => Promise<void>;
      onFirst: (msSinceStart: number) => void;
    },
  ) {}

  readonly onDelta = (delta: string, tokens = 1): Promise<void> | undefined => {
    if (!delta) return undefined;
    this.count += tokens;
    if (!this.firstAt) {
      this.firstAt = performance.now();
      this.o.onFirst(this.firstAt - this.o.started);
    }
    if (this.o.keepText) this.text += delta;
    if (this.o.incremental) return this.o.write(delta);
    this.held += delta;
    return undefined;
  };

  /** Sends what was held back for a caller that does not stream, as one delta. */
  async flush(): Promise<void> {
    if (this.held) await this.o.write(this.held);
    this.held = "";
  }
}

/** Refusals before anything ran: the caller's mistake or a full queue, not a request to meter. */
const REFUSED_UPFRONT = new Set<GrpcStatus>([
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.NOT_FOUND,
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.CANCELLED,
]);

function ranBeforeFailing(err: unknown, deltas: number): boolean {
  return deltas > 0 || !(err instanceof AppError && REFUSED_UPFRONT.has(err.code));
}

const FINISH: Record<FinishReason, serving.FinishReason> = {
  stop: serving.FinishReason.FINISH_REASON_STOP,
  length: serving.FinishReason.FINISH_REASON_LENGTH,
  cancelled: serving.FinishReason.FINISH_REASON_CANCELLED,
};

export interface GenerateContext {
  /** Aborted when the caller cancels, disconnects or runs out of time. */
  signal: AbortSignal;
  logger: Logger;
}

export type Generate = (
  raw: serving.GenerateRequest,
  write: (msg: serving.GenerateResponse) => Promise<void>,
  ctx: GenerateContext,
) => Promise<void>;

/**
 * Serving's one generation path, behind both front ends (gRPC Generate and the OpenAI-compatible HTTP
 * API): validation, the response cache, admission and decoding in the registry, metrics and usage
 * events. `write` receives the deltas (one, at the end, when the request does not stream) and the final.
 */
export function createGenerate(deps: {
  registry: ModelRegistry;
  cache?: ResponseCache | undefined;
  serving: ServingMetrics;
  usage: UsageMeter;
}): Generate {
  const m = deps.serving;
  const registry = deps.registry;
  const meter = (u: UsageRecord) => deps.usage.record(u);

  /** The cache key of a deterministic request, tied to the model's file so a replaced model misses. */
  const keyOf = (params: GenerateParams, mode: serving.CacheMode | undefined): string | undefined => {
    if (!deps.cache || mode === serving.CacheMode.CACHE_MODE_BYPASS) return undefined;
    const spec = registry.spec(params.model);
    const info = registry.models().find((x) => x.id === params.model);
    if (!spec || !info) return undefined;
    return cacheKey({ ...params, model: JSON.stringify([spec, info.createdUnix]) });
  };

  const observeGeneration = (
    model: string,
    result: GenerateResult,
    t: { started: number; firstAt: number; ended: number },
  ) => {
    m.requests.inc({ model, operation: "generate", status: result.finishReason });
    m.promptTokens.inc({ model }, result.promptTokens);
    m.generatedTokens.inc({ model }, result.completionTokens);
    if (result.cachedTokens > 0) {
      m.prefixHits.inc({ model });
      m.prefixTokens.inc({ model }, result.cachedTokens);
    }
    m.requestDuration.observe({ model, operation: "generate" }, (t.ended - t.started) / 1000);
    if (t.firstAt && result.completionTokens > 1) {
      m.timePerOutputToken.observe({ model }, (t.ended - t.firstAt) / 1000 / (result.completionTokens - 1));
    }
  };

  /** Stores a finished deterministic response; what the final message says about the cache. */
  const remember = (key: string | undefined, text: string, result: GenerateResult): serving.CacheResult => {
    const entry = key && deps.cache ? toCachedResponse(text, result) : undefined;
    if (!key || !entry) return serving.CacheResult.CACHE_RESULT_SKIP;
    deps.cache?.set(key, entry);
    return serving.CacheResult.CACHE_RESULT_MISS;
  };

  /** Answers from the response cache: the whole text as one delta, then the stored final. */
  const replay = async (
    req: { model: string; keyId: string; team: string; requestId: string },
    e: CachedResponse,
    write: (msg: serving.GenerateResponse) => Promise<void>,
    started: number,
    logger: Logger,
  ) => {
    m.timeToFirstToken.observe({ model: req.model }, (performance.now() - started) / 1000);
    if (e.text) await write({ event: { $case: "delta", delta: e.text } });
    const usage = { promptTokens: e.promptTokens, completionTokens: e.completionTokens, cachedTokens: 0 };
    const cache = serving.CacheResult.CACHE_RESULT_HIT;
    await write({ event: { $case: "final", final: { finishReason: FINISH[e.finishReason], usage, cache } } });
    const latencyMs = performance.now() - started;
    m.requests.inc({ model: req.model, operation: "generate", status: e.finishReason });
    m.requestDuration.observe({ model: req.model, operation: "generate" }, latencyMs / 1000);
    meter({ req, usage, latencyMs, status: "ok", cacheHit: true, logger });
  };

  return async (raw, write, ctx) => {
    const req = generateRequest.parse(raw);
    const params = toGenerateParams(req);
    const started = performance.now();
    const key = keyOf(params, req.cache);

    if (key && deps.cache) {
      const hit = await deps.cache.get(key);
      m.responseCache.inc({ model: req.model, result: hit ? "hit" : "miss", tier: hit?.tier ?? "none" });
      if (hit) return replay(req, hit.entry, write, started, ctx.logger);
    }

    // A caller that uses only the whole text gets it as one message, not one per token.
    const incremental = req.stream !== false;
    const relay = new DeltaRelay({
      started,
      keepText: key !== undefined,
      incremental,
      write: (delta) => write({ event: { $case: "delta", delta } }),
      onFirst: (ms) => m.timeToFirstToken.observe({ model: req.model }, ms / 1000),
    });
    const result = await registry
      .generate(params, { signal: ctx.signal, incremental, onDelta: relay.onDelta })
      .catch((err: unknown) => {
        m.requests.inc({ model: req.model, operation: "generate", status: "error" });
        // A request that ran and failed is recorded too (an error, and what it generated before it
        // failed, about a token a text chunk of the engine); the prompt's tokens are not known here and count as 0.
        if (ranBeforeFailing(err, relay.count))
          meter({
            req,
            usage: { promptTokens: 0, completionTokens: relay.count },
            latencyMs: performance.now() - started,
            status: "error",
            logger: ctx.logger,
          });
        throw err;
      });
    const ended = performance.now();
    observeGeneration(req.model, result, { started, firstAt: relay.firstAt, ended });
    const cache = remember(key, relay.text, result);
    const usage = {
      promptTokens: result.promptTokens,
      completionTokens: result.completionTokens,
      cachedTokens: result.cachedTokens,
    };
    if (!ctx.signal.aborted) {
      await relay.flush();
      await write({
        event: { $case: "final", final: { finishReason: FINISH[result.finishReason], usage, cache } },
      });
    }
    meter({
      req,
      usage,
      latencyMs: ended - started,
      status: result.finishReason === "cancelled" ? "cancelled" : "ok",
      logger: ctx.logger,
    });
  };
}
