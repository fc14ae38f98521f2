import { createHash } from "node:crypto";
import type { GenerateParams } from "../engine/engine.js";
import { canonicalJson } from "./canonical.js";

/**
 * Part of every hashed key. Bump it whenever the key material or the stored value changes
 * meaning: entries written before then are simply never looked up again and age out.
 */
export const CACHE_KEY_VERSION = 1;

/** Values that leave decoding exactly as the parameter's absence does, in every backend. */
const NEUTRAL: Partial<Record<keyof GenerateParams, number>> = {
  topP: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
};

/**
 * Hex SHA-256 identifying the output of a deterministic request, or undefined when the
 * request samples (temperature > 0) or holds a value that cannot be encoded exactly.
 *
 * Every parameter except temperature and seed is keyed, including fields added to
 * GenerateParams later: an unknown field can split entries but never merge requests
 * whose outputs differ.
 */
export function cacheKey(params: GenerateParams): string | undefined {
  const material = keyMaterial(params);
  const encoded = material && canonicalJson(material);
  if (encoded === undefined) return undefined;
  return createHash("sha256")
    .update(`sloughgpt.response-cache.v${CACHE_KEY_VERSION}\n`)
    .update(encoded)
    .digest("hex");
}

function keyMaterial(params: GenerateParams): Record<string, unknown> | undefined {
  // Unset temperature is greedy decoding. Writing the test this way round also refuses NaN.
  if (params.temperature !== undefined && !(params.temperature <= 0)) return undefined;
  // Greedy decoding never draws from the sampler, so the seed cannot change its output.
  const { temperature: _temperature, seed: _seed, stop, responseFormat, ...rest } = params;
  const material: Record<string, unknown> = {
    ...rest,
    // Stop sequences act as a set: their order and repeats do not change where output ends.
    stop: [...new Set(stop)].sort(),
    responseFormat: responseFormat?.type === "text" ? undefined : responseFormat,
  };
  for (const [name, neutral] of Object.entries(NEUTRAL)) {
    if (material[name] === neutral) delete material[name];
  }
  return material;
}
