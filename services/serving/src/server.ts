import type { serving } from "@sloughgpt/proto";
import { InvalidArgumentError, type Logger, type Metrics, serverStream, unary } from "@sloughgpt/runtime";
import { z } from "zod";
import type { Embed } from "./embedding.js";
import type { Generate } from "./generation.js";
import { toProtoModel } from "./models.js";
import type { ModelRegistry } from "./registry/registry.js";
import { type ModelSpec, parseModelSpec } from "./registry/spec.js";

/** Enough for a long document in one call; chunkers send one document at a time. */
const MAX_TOKENIZE_CHARS = 8_000_000;
const tokenizeRequest = z.object({
  model: z.string().min(1, "model is required"),
  input: z
    .array(z.string())
    .min(1, "input is required")
    .max(2048)
    .refine((a) => a.reduce((n, s) => n + s.length, 0) <= MAX_TOKENIZE_CHARS, {
      message: `input holds more than ${MAX_TOKENIZE_CHARS} characters in all`,
    }),
});

const loadModelRequest = z.object({ id: z.string().min(1, "id is required"), spec: z.unknown().optional() });
const unloadModelRequest = z.object({ id: z.string().min(1, "id is required") });

/** A proto ModelSpec as the registry's spec: proto3 zero values mean "the default". */
export function specFromProto(id: string, s: serving.ModelSpec): ModelSpec {
  if (s.id && s.id !== id)
    throw new InvalidArgumentError(`spec.id (${s.id}) differs from id (${id})`, { param: "spec.id" });
  const nz = <T>(v: T, zero: T) => (v === zero ? undefined : v);
  const raw =
    s.engine === "openai-compatible"
      ? {
          id,
          engine: s.engine,
          idleUnloadSeconds: nz(s.idleUnloadSeconds, 0),
          contextSize: nz(s.contextSize, 0),
          deployments: s.deployments.map((d) => ({
            url: d.url,
            apiKey: nz(d.apiKey, ""),
            model: nz(d.model, ""),
          })),
        }
      : {
          id,
          engine: nz(s.engine, ""),
          path: s.path,
          quantization: nz(s.quantization, ""),
          contextSize: nz(s.contextSize, 0),
          sequences: nz(s.sequences, 0),
          threads: nz(s.threads, 0),
          gpuLayers: nz(s.gpuLayers, 0),
          idleUnloadSeconds: nz(s.idleUnloadSeconds, 0),
        };
  return parseModelSpec(JSON.parse(JSON.stringify(raw)));
}

export function servingHandlers(deps: {
  registry: ModelRegistry;
  generate: Generate;
  embed: Embed;
  logger: Logger;
  metrics: Metrics;
}) {
  const registry = deps.registry;
  const env = { logger: deps.logger, metrics: deps.metrics, service: "ServingService" };

  const generate = serverStream<serving.GenerateRequest, serving.GenerateResponse>(
    env,
    "Generate",
    deps.generate,
  );

  const listModels = unary<serving.ListModelsRequest, serving.ListModelsResponse>(
    env,
    "ListModels",
    async () => ({
      models: registry.models().map(toProtoModel),
    }),
  );

  const embed = unary<serving.EmbedRequest, serving.EmbedResponse>(env, "Embed", deps.embed);

  const tokenize = unary<serving.TokenizeRequest, serving.TokenizeResponse>(
    env,
    "Tokenize",
    async (raw, ctx) => {
      const req = tokenizeRequest.parse(raw);
      const result = await registry.tokenize(req.model, req.input, { signal: ctx.signal });
      return { tokens: result.starts.map((starts) => ({ starts })) };
    },
  );

  const loadModel = unary<serving.LoadModelRequest, serving.LoadModelResponse>(
    env,
    "LoadModel",
    async (raw, ctx) => {
      const req = loadModelRequest.parse(raw);
      const spec = raw.spec ? specFromProto(req.id, raw.spec) : undefined;
      ctx.logger.info({ model: req.id, engine: spec?.engine }, "Loading model on request");
      return { model: toProtoModel(await registry.load(req.id, spec)) };
    },
  );

  const unloadModel = unary<serving.UnloadModelRequest, serving.UnloadModelResponse>(
    env,
    "UnloadModel",
    async (raw, ctx) => {
      const req = unloadModelRequest.parse(raw);
      ctx.logger.info({ model: req.id }, "Unloading model on request");
      await registry.unload(req.id);
      return {};
    },
  );

  const impl: serving.ServingServiceServer = {
    generate,
    listModels,
    embed,
    tokenize,
    loadModel,
    unloadModel,
  };
  return impl;
}
