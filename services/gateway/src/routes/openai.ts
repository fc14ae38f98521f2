import { randomUUID } from "node:crypto";
import { serving } from "@sloughgpt/proto";
import {
  CancelledError,
  callStream,
  callUnary,
  InvalidArgumentError,
  NotFoundError,
} from "@sloughgpt/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Upstreams } from "../clients.js";
import { toHttpError } from "../http/errors.js";
import { needs } from "../http/rbac.js";
import { SseWriter } from "../http/sse.js";
import {
  cacheHeader,
  cacheMode,
  chatChunk,
  chatCompletion,
  chatToGenerate,
  completionToGenerate,
  embeddingList,
  finishReason,
  type ResponseMeta,
  textChunk,
  textCompletion,
  usageChunk,
} from "../openai/mapping.js";
import { chatCompletionRequest, completionRequest, embeddingRequest } from "../openai/schemas.js";

interface Deps {
  upstreams: Upstreams;
  generationTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** Fires when the gateway's shutdown grace period has run out. */
  shutdownSignal: AbortSignal;
}

/**
 * Aborted when the HTTP client goes away (or the gateway gives up draining at shutdown),
 * which cancels the upstream gRPC call.
 */
export function clientGone(
  request: FastifyRequest,
  reply: FastifyReply,
  shutdown: AbortSignal,
): AbortController {
  const ctl = new AbortController();
  const onShutdown = () => ctl.abort(new CancelledError("the gateway is shutting down"));
  shutdown.addEventListener("abort", onShutdown, { once: true });
  reply.raw.once("close", () => {
    // The shutdown signal lives as long as the process: drop this request's listener with the request.
    shutdown.removeEventListener("abort", onShutdown);
    if (!reply.raw.writableFinished) ctl.abort(new CancelledError("client disconnected"));
  });
  request.raw.on("aborted", () => ctl.abort(new CancelledError("client disconnected")));
  return ctl;
}

type Kind = "chat" | "text";

async function collect(deps: Deps, req: serving.GenerateRequest, signal: AbortSignal) {
  let text = "";
  let final: serving.GenerateFinal | undefined;
  const stream = callStream(deps.upstreams.serving.generate.bind(deps.upstreams.serving), req, {
    deadlineMs: deps.generationTimeoutMs,
    signal,
  });
  for await (const msg of stream) {
    if (msg.event?.$case === "delta") text += msg.event.delta;
    else if (msg.event?.$case === "final") final = msg.event.final;
  }
  return { text, final };
}

async function streamSse(
  deps: Deps,
  kind: Kind,
  req: serving.GenerateRequest,
  meta: ResponseMeta,
  includeUsage: boolean,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const ctl = clientGone(request, reply, deps.shutdownSignal);
  const stream = callStream(deps.upstreams.serving.generate.bind(deps.upstreams.serving), req, {
    deadlineMs: deps.generationTimeoutMs,
    signal: ctl.signal,
  });
  // Pull the first message before committing to a 200, so early errors (unknown model,
  // bad max_tokens) still get a proper status code.
  const first = await stream.next();
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  sse.open({ "x-request-id": String(request.id) });
  try {
    if (kind === "chat") await sse.send(chatChunk(meta, { role: "assistant", content: "" }, null));
    let final: serving.GenerateFinal | undefined;
    for (let it = first; !it.done; it = await stream.next()) {
      const ev = it.value.event;
      if (ev?.$case === "delta") {
        await sse.send(
          kind === "chat" ? chatChunk(meta, { content: ev.delta }, null) : textChunk(meta, ev.delta, null),
        );
      } else if (ev?.$case === "final") {
        final = ev.final;
      }
    }
    const finish = finishReason(final?.finishReason);
    await sse.send(kind === "chat" ? chatChunk(meta, {}, finish) : textChunk(meta, "", finish));
    if (includeUsage) await sse.send(usageChunk(meta, final, kind));
  } catch (err) {
    if (!ctl.signal.aborted) {
      const e = toHttpError(err);
      request.log.warn({ status: e.status }, "Failed stream after it started");
      await sse.send(e.body);
    }
  }
  sse.done();
}

/** The validated body and the Generate request it becomes. */
function parseGenerate(kind: Kind, request: FastifyRequest) {
  const ids = {
    keyId: request.principal.keyId,
    team: request.principal.team,
    requestId: String(request.id),
    cache: cacheMode(request.headers),
  };
  if (kind === "chat") {
    const body = chatCompletionRequest.parse(request.body);
    return { body, req: chatToGenerate(body, ids) };
  }
  const body = completionRequest.parse(request.body);
  return { body, req: completionToGenerate(body, ids) };
}

export function openaiRoutes(app: FastifyInstance, deps: Deps): void {
  const listModels = async () => {
    const res = await callUnary(
      deps.upstreams.serving.listModels.bind(deps.upstreams.serving),
      {},
      {
        deadlineMs: deps.upstreamTimeoutMs,
      },
    );
    // Loaded models, and idle ones that load again on the first request; not those still loading or failed.
    return res.models
      .filter(
        (m) =>
          m.state === serving.ModelState.MODEL_STATE_LOADED ||
          m.state === serving.ModelState.MODEL_STATE_IDLE,
      )
      .map((m) => ({
        id: m.id,
        object: "model",
        created: m.createdUnix,
        owned_by: m.ownedBy,
      }));
  };

  app.get("/v1/models", needs("models:read"), async () => ({ object: "list", data: await listModels() }));

  app.get<{ Params: { id: string } }>("/v1/models/:id", needs("models:read"), async (request) => {
    const model = (await listModels()).find((m) => m.id === request.params.id);
    if (!model) {
      throw new NotFoundError(`The model '${request.params.id}' does not exist`, {
        param: "model",
        reason: "model_not_found",
      });
    }
    return model;
  });

  const generate = (kind: Kind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const { body, req } = parseGenerate(kind, request);
    const meta = {
      id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replaceAll("-", "")}`,
      created: Math.floor(Date.now() / 1000),
      model: body.model,
    };
    if (body.stream) {
      return streamSse(deps, kind, req, meta, body.stream_options?.include_usage === true, request, reply);
    }
    const { text, final } = await collect(deps, req, clientGone(request, reply, deps.shutdownSignal).signal);
    const cache = cacheHeader(final);
    if (cache) reply.header("x-sloughgpt-cache", cache);
    return kind === "chat" ? chatCompletion(meta, text, final) : textCompletion(meta, text, final);
  };

  app.post("/v1/embeddings", needs("embeddings:create"), async (request, reply) => {
    const body = embeddingRequest.parse(request.body);
    const input = typeof body.input === "string" ? [body.input] : body.input;
    const res = await callUnary(
      deps.upstreams.serving.embed.bind(deps.upstreams.serving),
      {
        model: body.model,
        input,
        keyId: request.principal.keyId,
        team: request.principal.team,
        requestId: String(request.id),
      },
      {
        deadlineMs: deps.generationTimeoutMs,
        signal: clientGone(request, reply, deps.shutdownSignal).signal,
      },
    );
    const vectors = res.embeddings.map((e) => e.values);
    const width = vectors[0]?.length ?? 0;
    if (body.dimensions !== undefined && body.dimensions !== width) {
      throw new InvalidArgumentError(
        `model '${body.model}' produces ${width}-dimensional embeddings; dimensions=${body.dimensions} is not supported`,
        { param: "dimensions" },
      );
    }
    return embeddingList(body.model, vectors, body.encoding_format, res.promptTokens);
  });

  app.post("/v1/chat/completions", needs("chat:create"), generate("chat"));
  app.post("/v1/completions", needs("chat:create"), generate("text"));
}
