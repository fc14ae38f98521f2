import { serving } from "@sloughgpt/proto";
import { callUnary, PermissionDeniedError } from "@sloughgpt/runtime";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Upstreams } from "../clients.js";
import { needs } from "../http/rbac.js";

interface Deps {
  upstreams: Upstreams;
  upstreamTimeoutMs: number;
}

/** Loading a model reads gigabytes; give it longer than an ordinary call. */
const LOAD_TIMEOUT_MS = 10 * 60_000;

const deployment = z.strictObject({
  url: z.string().min(1),
  api_key: z.string().optional(),
  model: z.string().optional(),
});

/** `{id}` loads a declared model; any other field declares (or redeclares) it first. */
const loadBody = z.strictObject({
  id: z.string().min(1, "id is required"),
  engine: z.enum(["llama", "openai-compatible"]).optional(),
  path: z.string().optional(),
  quantization: z.string().optional(),
  context_size: z.number().int().min(0).optional(),
  sequences: z.number().int().min(1).max(256).optional(),
  threads: z.number().int().min(1).max(256).optional(),
  gpu_layers: z.number().int().min(0).optional(),
  idle_unload_seconds: z.number().int().min(0).optional(),
  deployments: z.array(deployment).min(1).optional(),
});

const STATE: Record<serving.ModelState, string> = {
  [serving.ModelState.MODEL_STATE_UNSPECIFIED]: "unknown",
  [serving.ModelState.MODEL_STATE_LOADING]: "loading",
  [serving.ModelState.MODEL_STATE_LOADED]: "loaded",
  [serving.ModelState.MODEL_STATE_IDLE]: "idle",
  [serving.ModelState.MODEL_STATE_FAILED]: "failed",
  [serving.ModelState.UNRECOGNIZED]: "unknown",
};

export function adminModel(m: serving.Model) {
  return {
    id: m.id,
    object: "model",
    created: m.createdUnix,
    owned_by: m.ownedBy,
    state: STATE[m.state],
    engine: m.engine,
    quantization: m.quantization,
    context_size: m.contextSize,
    chat_template: m.chatTemplate,
  };
}

export function requireAdmin(request: FastifyRequest): void {
  if (request.principal.role !== "admin") {
    throw new PermissionDeniedError("This route needs the admin role", {
      reason: "insufficient_permissions",
    });
  }
}

/** Model lifecycle for platform admins: every declared model with its state, load, unload. */
export function adminModelRoutes(app: FastifyInstance, deps: Deps): void {
  const s = deps.upstreams.serving;

  app.get(
    "/v1/admin/models",
    needs("admin:models", {
      auditAction: "models.list",
      summary: "Every model in the registry, with its state",
    }),
    async (request) => {
      requireAdmin(request);
      const res = await callUnary(s.listModels.bind(s), {}, { deadlineMs: deps.upstreamTimeoutMs });
      return { object: "list", data: res.models.map(adminModel) };
    },
  );

  app.post(
    "/v1/admin/models",
    needs("admin:models", {
      auditAction: "models.load",
      summary: "Load a model (or declare and load one)",
      body: loadBody,
    }),
    async (request) => {
      requireAdmin(request);
      const b = loadBody.parse(request.body);
      const declares = Object.keys(b).some((k) => k !== "id");
      const spec: serving.ModelSpec | undefined = declares
        ? {
            id: b.id,
            engine: b.engine ?? "llama",
            path: b.path ?? "",
            quantization: b.quantization ?? "",
            contextSize: b.context_size ?? 0,
            sequences: b.sequences ?? 0,
            threads: b.threads ?? 0,
            gpuLayers: b.gpu_layers ?? 0,
            idleUnloadSeconds: b.idle_unload_seconds ?? 0,
            deployments: (b.deployments ?? []).map((d) => ({
              url: d.url,
              apiKey: d.api_key ?? "",
              model: d.model ?? "",
            })),
          }
        : undefined;
      const res = await callUnary(s.loadModel.bind(s), { id: b.id, spec }, { deadlineMs: LOAD_TIMEOUT_MS });
      return adminModel(res.model as serving.Model);
    },
  );

  // Model ids may contain "/" (org/name), so the id is the rest of the path.
  app.delete<{ Params: { "*": string } }>(
    "/v1/admin/models/*",
    needs("admin:models", { auditAction: "models.unload", summary: "Unload a model" }),
    async (request) => {
      requireAdmin(request);
      const id = request.params["*"];
      await callUnary(s.unloadModel.bind(s), { id }, { deadlineMs: deps.upstreamTimeoutMs });
      return { id, object: "model", deleted: true };
    },
  );
}
