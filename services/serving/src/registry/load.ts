import { readFile } from "node:fs/promises";
import { InvalidArgumentError } from "@sloughgpt/runtime";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { Config } from "../config.js";
import { type ModelSpec, parseModelSpec, registryFile } from "./spec.js";

/** Parses a registry file's text (YAML, of which JSON is a subset); errors name the entry and field. */
export function parseRegistry(text: string, source: string, env: NodeJS.ProcessEnv): ModelSpec[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`${source}: not valid YAML/JSON: ${(err as Error).message}`);
  }
  const parsed = registryFile.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidArgumentError(`${source}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data.models.map((m) => resolveSecrets(m, env, source));
}

/** Deployment keys named by `apiKeyEnv` are read from the environment. */
export function resolveSecrets(spec: ModelSpec, env: NodeJS.ProcessEnv, source = "model spec"): ModelSpec {
  if (spec.engine !== "openai-compatible") return spec;
  return {
    ...spec,
    deployments: spec.deployments.map((d, i) => {
      if (!d.apiKeyEnv) return d;
      const apiKey = env[d.apiKeyEnv];
      if (!apiKey) {
        throw new InvalidArgumentError(
          `${source}: model ${spec.id} deployment ${i} reads its key from ${d.apiKeyEnv}, which is not set`,
        );
      }
      return { ...d, apiKey };
    }),
  };
}

/** Every model the service starts with: the registry file's, then MODEL_PATH's unless the file has its id. */
export async function declaredModels(config: Config, env: NodeJS.ProcessEnv): Promise<ModelSpec[]> {
  const models = config.MODELS_CONFIG
    ? parseRegistry(await readFile(config.MODELS_CONFIG, "utf8"), config.MODELS_CONFIG, env)
    : [];
  if (config.MODEL_PATH && !models.some((m) => m.id === config.MODEL_ID)) {
    models.push(
      parseModelSpec({
        id: config.MODEL_ID,
        path: config.MODEL_PATH,
        contextSize: config.LLAMA_CONTEXT_SIZE,
        sequences: config.LLAMA_SEQUENCES,
        threads: config.LLAMA_THREADS,
        gpuLayers: config.LLAMA_GPU_LAYERS,
        maxQueue: config.MAX_QUEUE,
        idleUnloadSeconds: config.MODEL_IDLE_UNLOAD_SECONDS,
      }),
    );
  }
  return models;
}
