import type { Logger } from "@sloughgpt/runtime";
import type { ModelBackend } from "../engine/engine.js";
import { LlamaEngine, type LlamaEngineOptions } from "../engine/llama-engine.js";
import { ProcessBackend } from "../engine/process-backend.js";
import { UpstreamBackend } from "../engine/upstream.js";
import type { BackendFactory } from "./registry.js";
import type { LlamaSpec } from "./spec.js";

export function llamaOptions(
  spec: LlamaSpec,
  gpu: LlamaEngineOptions["gpu"],
): Omit<LlamaEngineOptions, "logger"> {
  return {
    modelPath: spec.path,
    modelId: spec.id,
    threads: spec.threads,
    sequences: spec.sequences,
    contextSize: spec.contextSize,
    gpu,
    gpuLayers: spec.gpuLayers,
    maxQueue: spec.maxQueue,
    quantization: spec.quantization,
  };
}

/** Builds a model's backend from its spec: llama.cpp (in its own process or inline) or an upstream server. */
export function backendFactory(opts: {
  isolation: "process" | "inline";
  gpu: LlamaEngineOptions["gpu"];
  /** See ProcessBackend's options. */
  streamIntervalMs?: number | undefined;
  logger: Logger;
  onCrash?: (model: string) => void;
}): BackendFactory {
  return async (spec): Promise<ModelBackend> => {
    const logger = opts.logger.child({ model: spec.id });
    if (spec.engine === "openai-compatible") return new UpstreamBackend(spec, { logger });
    const o = llamaOptions(spec, opts.gpu);
    if (opts.isolation === "inline")
      return LlamaEngine.load({ ...o, logger: logger.child({ component: "engine" }) });
    return ProcessBackend.start({ ...o, streamIntervalMs: opts.streamIntervalMs }, logger, {
      onCrash: () => opts.onCrash?.(spec.id),
    });
  };
}
