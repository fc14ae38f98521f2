import type { serving } from "@sloughgpt/proto";
import { z } from "zod";
import type { GenerateContext } from "./generation.js";
import type { ServingMetrics } from "./metrics.js";
import type { ModelRegistry } from "./registry/registry.js";
import type { UsageMeter } from "./usage.js";

const embedRequest = z.object({
  model: z.string().min(1, "model is required"),
  input: z.array(z.string().min(1, "inputs must not be empty")).min(1, "input is required").max(2048),
  keyId: z.string(),
  team: z.string().default(""),
  requestId: z.string(),
});

export type Embed = (raw: serving.EmbedRequest, ctx: GenerateContext) => Promise<serving.EmbedResponse>;

/** Serving's one embedding path, behind gRPC Embed and the HTTP API's /v1/embeddings: metrics and usage events. */
export function createEmbed(deps: {
  registry: ModelRegistry;
  serving: ServingMetrics;
  usage: UsageMeter;
}): Embed {
  const m = deps.serving;
  return async (raw, ctx) => {
    const req = embedRequest.parse(raw);
    const started = performance.now();
    const result = await deps.registry
      .embed(req.model, req.input, { signal: ctx.signal })
      .catch((err: unknown) => {
        m.requests.inc({ model: req.model, operation: "embed", status: "error" });
        throw err;
      });
    m.requests.inc({ model: req.model, operation: "embed", status: "ok" });
    m.promptTokens.inc({ model: req.model }, result.promptTokens);
    deps.usage.record({
      req,
      usage: { promptTokens: result.promptTokens, completionTokens: 0 },
      latencyMs: performance.now() - started,
      status: "ok",
      logger: ctx.logger,
    });
    return { embeddings: result.vectors.map((values) => ({ values })), promptTokens: result.promptTokens };
  };
}
