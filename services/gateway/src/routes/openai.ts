import {
  availableModels,
  CompletionChunks,
  cacheHeader,
  cacheMode,
  chatCompletionRequest,
  chatToGenerate,
  completion,
  completionRequest,
  completionToGenerate,
  embeddingInputs,
  embeddingRequest,
  embeddingResponse,
  findModel,
  type Kind,
  type ResponseMeta,
  requestSignal,
  responseMeta,
} from "@sloughgpt/openai";
import type { serving } from "@sloughgpt/proto";
import { callStream, callUnary } from "@sloughgpt/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Upstreams } from "../clients.js";
import { needs } from "../http/rbac.js";
import { relaySse } from "../http/sse.js";
import { completionAllowance, estimateJsonTokens, estimateTextTokens } from "../limits/estimate.js";
import { NOOP_TICKET, type RequestGate, type Ticket } from "../limits/gate.js";

interface Deps {
  upstreams: Upstreams;
  generationTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** Fires when the gateway's shutdown grace period has run out. */
  shutdownSignal: AbortSignal;
  /** Budgets and rate limits; without it every request is admitted. */
  gate?: RequestGate | undefined;
}

/** Admits a model request against the caller's budgets and rate limits (throws a 429 when refused). */
export async function admitRequest(
  gate: RequestGate | undefined,
  request: FastifyRequest,
  reply: FastifyReply,
  estimatedTokens: number,
): Promise<Ticket> {
  if (!gate) return NOOP_TICKET;
  const ticket = await gate.admit(request.principal, estimatedTokens);
  reply.headers(ticket.headers);
  return ticket;
}

/** Awaits an admitted upstream call and settles its ticket with the tokens it used (the estimate if it failed). */
export async function settledCall<T>(
  ticket: Ticket,
  estimate: number,
  call: Promise<T>,
  used: (result: T) => number,
): Promise<T> {
  let tokens = estimate;
  try {
    const result = await call;
    tokens = used(result);
    return result;
  } finally {
    ticket.settle(tokens);
  }
}

const usedTokens = (final: serving.GenerateFinal | undefined) =>
  final?.usage ? final.usage.promptTokens + final.usage.completionTokens : undefined;

/**
 * Aborted when the HTTP client goes away (or the gateway gives up draining at shutdown),
 * which cancels the upstream gRPC call.
 */
export function clientGone(reply: FastifyReply, shutdown: AbortSignal): AbortSignal {
  return requestSignal(reply.raw, shutdown, "the gateway is shutting down");
}

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

interface StreamCall {
  kind: Kind;
  req: serving.GenerateRequest;
  meta: ResponseMeta;
  includeUsage: boolean;
  ticket: Ticket;
  promptEstimate: number;
}

async function streamSse(
  deps: Deps,
  call: StreamCall,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const { kind, req, meta, includeUsage, ticket } = call;
  let deltas = 0;
  let text = "";
  let final: serving.GenerateFinal | undefined;
  try {
    await relayStream(deps, { kind, req, meta, includeUsage }, request, reply, {
      onDelta: (delta) => {
        deltas++;
        text += delta;
      },
      onFinal: (f) => {
        final = f;
      },
    });
  } finally {
    // A cancelled or failed stream counts what it generated: at least a token a delta, more where
    // serving sent several tokens in one.
    const generated = Math.max(deltas, estimateTextTokens(text));
    ticket.settle(usedTokens(final) ?? call.promptEstimate + generated);
  }
}

async function relayStream(
  deps: Deps,
  { kind, req, meta, includeUsage }: Omit<StreamCall, "ticket" | "promptEstimate">,
  request: FastifyRequest,
  reply: FastifyReply,
  seen: { onDelta(delta: string): void; onFinal(f: serving.GenerateFinal): void },
): Promise<void> {
  const signal = clientGone(reply, deps.shutdownSignal);
  const stream = callStream(deps.upstreams.serving.generate.bind(deps.upstreams.serving), req, {
    deadlineMs: deps.generationTimeoutMs,
    signal,
  });
  await relaySse(request, reply, signal, stream, async (sse, messages) => {
    const chunks = new CompletionChunks(sse, { kind, meta, includeUsage });
    await chunks.start();
    for await (const msg of messages) {
      if (msg.event?.$case === "delta") seen.onDelta(msg.event.delta);
      else if (msg.event?.$case === "final") seen.onFinal(msg.event.final);
      await chunks.write(msg);
    }
    await chunks.end();
  });
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
    const promptEstimate = estimateJsonTokens(body.messages);
    const estimate = promptEstimate + completionAllowance(body.max_completion_tokens, body.max_tokens);
    return { body, req: chatToGenerate(body, ids), promptEstimate, estimate };
  }
  const body = completionRequest.parse(request.body);
  const promptEstimate = estimateJsonTokens(body.prompt);
  const estimate = promptEstimate + completionAllowance(body.max_tokens);
  return { body, req: completionToGenerate(body, ids), promptEstimate, estimate };
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
    return availableModels(res.models);
  };

  app.get("/v1/models", needs("models:read", { summary: "Models that can answer (OpenAI)" }), async () => ({
    object: "list",
    data: await listModels(),
  }));

  app.get<{ Params: { id: string } }>(
    "/v1/models/:id",
    needs("models:read", { summary: "One model (OpenAI)" }),
    async (request) => findModel(await listModels(), request.params.id),
  );

  const generate = (kind: Kind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const { body, req, promptEstimate, estimate } = parseGenerate(kind, request);
    const ticket = await admitRequest(deps.gate, request, reply, estimate);
    const meta = responseMeta(kind, body.model);
    if (body.stream) {
      const includeUsage = body.stream_options?.include_usage === true;
      return streamSse(deps, { kind, req, meta, includeUsage, ticket, promptEstimate }, request, reply);
    }
    const { text, final } = await settledCall(
      ticket,
      promptEstimate,
      collect(deps, req, clientGone(reply, deps.shutdownSignal)),
      (r) => usedTokens(r.final) ?? promptEstimate,
    );
    const cache = cacheHeader(final);
    if (cache) reply.header("x-sloughgpt-cache", cache);
    return completion(kind, meta, text, final);
  };

  app.post(
    "/v1/embeddings",
    needs("embeddings:create", { summary: "Embed text (OpenAI)", body: embeddingRequest }),
    async (request, reply) => {
      const body = embeddingRequest.parse(request.body);
      const input = embeddingInputs(body);
      const estimate = input.reduce((n, text) => n + estimateTextTokens(text), 0);
      const ticket = await admitRequest(deps.gate, request, reply, estimate);
      const res = await settledCall(
        ticket,
        estimate,
        callUnary(
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
            signal: clientGone(reply, deps.shutdownSignal),
          },
        ),
        (r) => r.promptTokens,
      );
      return embeddingResponse(body, res);
    },
  );

  app.post(
    "/v1/chat/completions",
    needs("chat:create", {
      summary: "Chat completion, streamed with stream: true (OpenAI)",
      body: chatCompletionRequest,
    }),
    generate("chat"),
  );
  app.post(
    "/v1/completions",
    needs("chat:create", { summary: "Text completion (OpenAI)", body: completionRequest }),
    generate("text"),
  );
}
