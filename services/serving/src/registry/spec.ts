import { fileURLToPath } from "node:url";
import { z } from "zod";

/** Model ids travel in URLs, metric labels and cache keys. */
const modelId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "model ids use letters, digits and . _ : / -");

/** A path, or a file:// URL on a mounted volume. Remote URLs are refused: nothing downloads at run time. */
const modelPath = z
  .string()
  .min(1)
  .transform((p, ctx) => {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) return p;
    if (p.startsWith("file://")) return fileURLToPath(p);
    ctx.addIssue({
      code: "custom",
      message: "path must be a file path or a file:// URL on a mounted volume",
    });
    return z.NEVER;
  });

export const QUANTIZATIONS = [
  "F32",
  "F16",
  "Q8_0",
  "Q4_0",
  "Q4_1",
  "Q4_K_S",
  "Q4_K_M",
  "Q5_K_M",
  "Q6_K",
] as const;

const common = {
  id: modelId,
  /** Seconds without requests after which the model is unloaded (0: never); the next request loads it. */
  idleUnloadSeconds: z.number().int().min(0).default(0),
};

export const llamaSpec = z.object({
  ...common,
  engine: z.literal("llama").default("llama"),
  path: modelPath,
  /** When set, loading fails unless the file has this quantization. */
  quantization: z.enum(QUANTIZATIONS).optional(),
  /** Tokens per sequence; 0 uses the model's trained context length. */
  contextSize: z.number().int().min(0).default(0),
  sequences: z.number().int().min(1).max(256).default(4),
  threads: z.number().int().min(1).max(256).default(1),
  gpuLayers: z.number().int().min(0).default(0),
  /** Requests waiting for a free sequence; beyond it new requests fail fast with RESOURCE_EXHAUSTED. */
  maxQueue: z.number().int().min(0).default(64),
});

export const deployment = z.object({
  /** Base URL with the version prefix, e.g. http://vllm:8000/v1 */
  url: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, "")),
  apiKey: z.string().optional(),
  /** Environment variable holding the API key, so registry files carry no secrets. */
  apiKeyEnv: z.string().optional(),
  /** Model name upstream; the spec id when unset. */
  model: z.string().min(1).optional(),
});

export const upstreamSpec = z.object({
  ...common,
  engine: z.literal("openai-compatible"),
  /** Tried in order: a deployment that cannot be reached falls through to the next. */
  deployments: z.array(deployment).min(1),
  /** Connect + time to the response headers, per attempt. */
  connectTimeoutMs: z.number().int().min(1).default(5000),
  /** Whole-request limit. */
  timeoutMs: z.number().int().min(1).default(600_000),
  /** Attempts per deployment on connection errors before falling through. */
  connectRetries: z.number().int().min(0).max(10).default(1),
  contextSize: z.number().int().min(0).default(0),
  maxQueue: z.number().int().min(0).default(256),
  /** Concurrent requests forwarded upstream. */
  concurrency: z.number().int().min(1).default(64),
});

export const modelSpec = z.discriminatedUnion("engine", [llamaSpec, upstreamSpec]);

/** The registry file: YAML or JSON, `{models: [...]}`. */
export const registryFile = z
  .object({ models: z.array(z.preprocess((v) => withDefaultEngine(v), modelSpec)) })
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.models.forEach((m, i) => {
      if (seen.has(m.id))
        ctx.addIssue({ code: "custom", path: ["models", i, "id"], message: `duplicate id ${m.id}` });
      seen.add(m.id);
    });
  });

export type LlamaSpec = z.infer<typeof llamaSpec>;
export type UpstreamSpec = z.infer<typeof upstreamSpec>;
export type ModelSpec = z.infer<typeof modelSpec>;
export type Deployment = z.infer<typeof deployment>;

function withDefaultEngine(v: unknown): unknown {
  if (v && typeof v === "object" && !("engine" in v)) return { ...v, engine: "llama" };
  return v;
}

export function parseModelSpec(v: unknown): ModelSpec {
  return modelSpec.parse(withDefaultEngine(v));
}
