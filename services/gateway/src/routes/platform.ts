import type { SseWriter } from "@sloughgpt/openai";
import { rag as ragProto, reasoning } from "@sloughgpt/proto";
import { callStream, callUnary } from "@sloughgpt/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Upstreams } from "../clients.js";
import { needs } from "../http/rbac.js";
import { relaySse } from "../http/sse.js";
import { completionAllowance, estimateTextTokens } from "../limits/estimate.js";
import type { RequestGate, Ticket } from "../limits/gate.js";
import { admitRequest, clientGone, settledCall } from "./openai.js";
import { documentsBody, positionJson, toProtoDocuments } from "./rag-documents.js";

interface Deps {
  upstreams: Upstreams;
  upstreamTimeoutMs: number;
  reasoningTimeoutMs: number;
  shutdownSignal: AbortSignal;
  gate?: RequestGate | undefined;
}

const createCollectionBody = z.object({
  name: z.string().min(1),
  chunk_size: z.number().int().min(64).max(20_000).optional(),
  chunk_overlap: z.number().int().min(0).max(20_000).optional(),
  // A model serving can embed with; "" for a lexical-only collection; unset: the service default.
  embedding_model: z.string().max(256).optional(),
  // Where vectors live: postgres (default) or qdrant (when rag has QDRANT_URL).
  store: z.enum(["postgres", "qdrant"]).optional(),
  // What chunk_size and chunk_overlap count: characters (default) or the embedding model's tokens.
  chunk_unit: z.enum(["characters", "tokens"]).optional(),
});
const CHUNK_UNITS = {
  characters: ragProto.ChunkUnit.CHUNK_UNIT_CHARACTERS,
  tokens: ragProto.ChunkUnit.CHUNK_UNIT_TOKENS,
} as const;
const chunkUnitName = (u: ragProto.ChunkUnit | undefined) =>
  u === ragProto.ChunkUnit.CHUNK_UNIT_TOKENS ? "tokens" : "characters";
const jobParam = z.object({ id: z.string().min(1) });
const answerBody = z.object({
  question: z.string().min(1),
  top_k: z.number().int().min(1).max(50).default(5),
  mode: z.enum(["lexical", "dense", "hybrid"]).optional(),
  filter: z.record(z.string(), z.unknown()).optional(),
  model: z.string().optional(),
  max_tokens: z.number().int().min(1).max(8192).optional(),
  // Server-sent events: the passages, the answer's text as it is generated, then citations and usage.
  stream: z.boolean().optional(),
});
const searchBody = z.object({
  query: z.string().min(1),
  top_k: z.number().int().min(1).max(1000).default(10),
  mode: z.enum(["lexical", "dense", "hybrid"]).optional(),
  filter: z.record(z.string(), z.unknown()).optional(),
});
const deleteBody = z
  .object({
    ids: z.array(z.string().min(1)).max(10_000).optional(),
    filter: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((b) => (b.ids?.length ?? 0) > 0 || b.filter !== undefined, { message: "give ids or filter" });
const SEARCH_MODES = {
  lexical: ragProto.SearchMode.SEARCH_MODE_LEXICAL,
  dense: ragProto.SearchMode.SEARCH_MODE_DENSE,
  hybrid: ragProto.SearchMode.SEARCH_MODE_HYBRID,
} as const;
const nameParam = z.object({ name: z.string().min(1) });
const solveBody = z.object({
  problem: z.string().min(1),
  model: z.string().optional(),
  strategy: z.literal("chain_of_thought").default("chain_of_thought"),
  max_tokens: z.number().int().min(1).max(8192).optional(),
});
const jobQuery = z.object({ namespace: z.string().optional() });
const logQuery = jobQuery.extend({
  node: z.coerce.number().int().min(0).optional(),
  tail: z.coerce.number().int().min(1).max(10_000).optional(),
  attempt: z.coerce.number().int().min(0).optional(),
});
const jobAction = z.object({
  target: z.string().regex(/^[^:]+:(suspend|resume)$/, "must be <name>:suspend or <name>:resume"),
});

export function platformRoutes(app: FastifyInstance, deps: Deps): void {
  const { rag, training } = deps.upstreams;
  // Upstream calls end when the client disconnects.
  const unary = (request: FastifyRequest, reply: FastifyReply, deadlineMs = deps.upstreamTimeoutMs) => ({
    deadlineMs,
    signal: clientGone(reply, deps.shutdownSignal),
  });

  app.post(
    "/v1/rag/collections",
    needs("rag:write", { summary: "Create a collection of the caller's team", body: createCollectionBody }),
    async (request, reply) => {
      const body = createCollectionBody.parse(request.body);
      const res = await callUnary(
        rag.createCollection.bind(rag),
        {
          name: body.name,
          team: request.principal.team,
          chunkSize: body.chunk_size,
          chunkOverlap: body.chunk_overlap,
          embeddingModel: body.embedding_model,
          store: body.store,
          chunkUnit: body.chunk_unit && CHUNK_UNITS[body.chunk_unit],
        },
        unary(request, reply),
      );
      const c = res.collection;
      reply.code(201);
      return {
        name: c?.name,
        team: c?.team,
        chunk_size: c?.chunkSize,
        chunk_overlap: c?.chunkOverlap,
        chunk_unit: chunkUnitName(c?.chunkUnit),
        embedding_model: c?.embeddingModel,
        store: c?.store,
        created: c?.createdUnix,
      };
    },
  );

  app.get(
    "/v1/rag/collections/:name",
    needs("rag:read", { summary: "One collection and its settings" }),
    async (request, reply) => {
      const { name } = nameParam.parse(request.params);
      const res = await callUnary(
        rag.getCollection.bind(rag),
        { name, team: request.principal.team },
        unary(request, reply),
      );
      const c = res.collection;
      return {
        name: c?.name,
        chunk_size: c?.chunkSize,
        chunk_overlap: c?.chunkOverlap,
        chunk_unit: chunkUnitName(c?.chunkUnit),
        embedding_model: c?.embeddingModel,
        store: c?.store,
        created: c?.createdUnix,
        chunks: res.chunks,
        // How much the default search mode trusts the embedding model (null until measured).
        dense_weight: res.denseWeight ?? null,
        calibrated_chunks: res.calibratedChunks,
      };
    },
  );

  app.post(
    "/v1/rag/collections/:name/documents",
    needs("rag:write", { summary: "Upsert documents (async: a durable ingestion job)", body: documentsBody }),
    async (request, reply) => {
      const { name } = nameParam.parse(request.params);
      const body = documentsBody.parse(request.body);
      const req = {
        collection: name,
        team: request.principal.team,
        documents: toProtoDocuments(body),
      };
      if (body.async) {
        const job = await callUnary(rag.submitIngestJob.bind(rag), req, unary(request, reply));
        reply.code(202);
        return { job_id: job.jobId, status_url: `/v1/rag/jobs/${job.jobId}` };
      }
      const res = await callUnary(rag.upsert.bind(rag), req, unary(request, reply));
      return { documents_changed: res.documents, chunks_written: res.chunks };
    },
  );

  app.post(
    "/v1/rag/collections/:name/answer",
    needs("rag:read", { summary: "Answer from the collection, citing passages as [n]", body: answerBody }),
    async (request, reply) => {
      const { name } = nameParam.parse(request.params);
      const body = answerBody.parse(request.body);
      // It generates: the caller's rate limits and budgets apply, counted on the question and answer
      // (retrieved passages join the prompt; the settle corrects the estimate).
      const estimate = estimateTextTokens(body.question) + completionAllowance(body.max_tokens);
      const ticket = await admitRequest(deps.gate, request, reply, estimate);
      const req: ragProto.AnswerRequest = {
        collection: name,
        team: request.principal.team,
        question: body.question,
        topK: body.top_k,
        model: body.model ?? "",
        maxTokens: body.max_tokens ?? 0,
        mode: body.mode ? SEARCH_MODES[body.mode] : ragProto.SearchMode.SEARCH_MODE_UNSPECIFIED,
        filterJson: body.filter ? JSON.stringify(body.filter) : "",
        keyId: request.principal.keyId,
        requestId: String(request.id),
      };
      if (body.stream) {
        await streamAnswer({ rag, req, ticket, estimate }, request, reply);
        return reply;
      }
      const res = await settledCall(
        ticket,
        estimate,
        callUnary(rag.answer.bind(rag), req, unary(request, reply, deps.reasoningTimeoutMs)),
        (r) => r.promptTokens + r.completionTokens,
      );
      return {
        answer: res.answer,
        ...answerTail(res),
        passages: res.passages.map(passageJson),
        model: res.model,
      };
    },
  );

  /**
   * `stream: true`: `{object: "rag.answer.passages", passages, model}`, then `{object: "rag.answer.delta",
   * delta}` events, then `{object: "rag.answer.done", citations, invalid_citations, usage}` and `[DONE]`.
   * Errors before the first event keep their HTTP status; later ones arrive as an error event. The
   * caller's tokens are settled with the usage, or with what was generated when the stream breaks off.
   */
  async function streamAnswer(
    call: { rag: typeof rag; req: ragProto.AnswerRequest; ticket: Ticket; estimate: number },
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const signal = clientGone(reply, deps.shutdownSignal);
    const seen: AnswerSeen = { text: "" };
    try {
      const stream = callStream(
        call.rag.answerStream.bind(call.rag),
        { request: call.req },
        { deadlineMs: deps.reasoningTimeoutMs, signal },
      );
      // The first event is the passages: a missing collection is still a 404.
      await relaySse(request, reply, signal, stream, async (sse, messages) => {
        for await (const msg of messages) await relayAnswerEvent(msg, sse, seen);
      });
    } finally {
      call.ticket.settle(seen.used ?? call.estimate + estimateTextTokens(seen.text));
    }
  }

  app.get(
    "/v1/rag/jobs/:id",
    needs("rag:read", { summary: "Progress of an ingestion job" }),
    async (request, reply) => {
      const { id } = jobParam.parse(request.params);
      const j = await callUnary(
        rag.getIngestJob.bind(rag),
        { id, team: request.principal.team },
        unary(request, reply),
      );
      return {
        id: j.id,
        collection: j.collection,
        state: j.state,
        total: j.total,
        done: j.done,
        failed: j.failed,
        errors: j.errors.map((e) => ({ document_id: e.documentId, error: e.error })),
        created: j.createdUnix,
      };
    },
  );

  app.post(
    "/v1/rag/collections/:name/search",
    needs("rag:read", { summary: "Lexical, dense or hybrid search with filters", body: searchBody }),
    async (request, reply) => {
      const { name } = nameParam.parse(request.params);
      const body = searchBody.parse(request.body);
      // A search counts as a request against the caller's limits, and its query's tokens (it may be
      // embedded) against tokens per minute and the budget checks.
      const tokens = estimateTextTokens(body.query);
      const ticket = await admitRequest(deps.gate, request, reply, tokens);
      const res = await settledCall(
        ticket,
        tokens,
        callUnary(
          rag.search.bind(rag),
          {
            collection: name,
            team: request.principal.team,
            query: body.query,
            topK: body.top_k,
            mode: body.mode ? SEARCH_MODES[body.mode] : ragProto.SearchMode.SEARCH_MODE_UNSPECIFIED,
            filterJson: body.filter ? JSON.stringify(body.filter) : "",
          },
          unary(request, reply),
        ),
        () => tokens,
      );
      return {
        results: res.results.map((r) => ({
          document_id: r.documentId,
          chunk_id: r.chunkId,
          score: r.score,
          text: r.text,
          metadata: JSON.parse(r.metadataJson || "{}") as unknown,
          ...positionJson(r),
        })),
      };
    },
  );

  app.post(
    "/v1/rag/collections/:name/documents/delete",
    needs("rag:write", { summary: "Delete documents by id or by metadata filter", body: deleteBody }),
    async (request, reply) => {
      const { name } = nameParam.parse(request.params);
      const body = deleteBody.parse(request.body);
      const res = await callUnary(
        rag.deleteDocuments.bind(rag),
        {
          collection: name,
          team: request.principal.team,
          ids: body.ids ?? [],
          filterJson: body.filter ? JSON.stringify(body.filter) : "",
        },
        unary(request, reply),
      );
      return { documents_deleted: res.documents, chunks_deleted: res.chunks };
    },
  );

  app.post(
    "/v1/reasoning/solve",
    needs("reasoning:create", { summary: "Solve a problem with a reasoning strategy", body: solveBody }),
    async (request, reply) => {
      const body = solveBody.parse(request.body);
      const client = deps.upstreams.reasoning;
      const estimate = estimateTextTokens(body.problem) + completionAllowance(body.max_tokens);
      const ticket = await admitRequest(deps.gate, request, reply, estimate);
      const res = await settledCall(
        ticket,
        estimate,
        callUnary(
          client.solve.bind(client),
          {
            problem: body.problem,
            model: body.model ?? "",
            strategy: reasoning.Strategy.STRATEGY_CHAIN_OF_THOUGHT,
            maxTokens: body.max_tokens ?? 0,
            keyId: request.principal.keyId,
            team: request.principal.team,
            requestId: String(request.id),
          },
          unary(request, reply, deps.reasoningTimeoutMs),
        ),
        (r) => r.promptTokens + r.completionTokens,
      );
      return {
        answer: res.answer,
        reasoning: res.reasoning,
        strategy: body.strategy,
        usage: {
          prompt_tokens: res.promptTokens,
          completion_tokens: res.completionTokens,
          total_tokens: res.promptTokens + res.completionTokens,
        },
      };
    },
  );

  const jobJson = (
    j:
      | {
          namespace: string;
          name: string;
          uid: string;
          phase: string;
          createdUnix: number;
          manifestJson: string;
          statusJson: string;
        }
      | undefined,
  ) =>
    j && {
      namespace: j.namespace,
      name: j.name,
      uid: j.uid,
      phase: j.phase,
      created: j.createdUnix,
      manifest: JSON.parse(j.manifestJson) as unknown,
      status: JSON.parse(j.statusJson || "{}") as unknown,
    };

  app.post("/v1/training/jobs", needs("training:write"), async (request, reply) => {
    const manifest = typeof request.body === "string" ? request.body : JSON.stringify(request.body ?? "");
    const res = await callUnary(
      training.submitJob.bind(training),
      { manifest, team: request.principal.team },
      unary(request, reply),
    );
    reply.code(201);
    return jobJson(res.job);
  });

  app.get("/v1/training/jobs", needs("training:read"), async (request, reply) => {
    const q = jobQuery.parse(request.query);
    const res = await callUnary(
      training.listJobs.bind(training),
      { namespace: q.namespace ?? "", team: request.principal.team },
      unary(request, reply),
    );
    return { object: "list", data: res.jobs.map(jobJson) };
  });

  app.get("/v1/training/jobs/:name", needs("training:read"), async (request, reply) => {
    const { name } = nameParam.parse(request.params);
    const q = jobQuery.parse(request.query);
    const res = await callUnary(
      training.getJob.bind(training),
      { namespace: q.namespace ?? "", name, team: request.principal.team },
      unary(request, reply),
    );
    return jobJson(res.job);
  });

  app.get(
    "/v1/training/jobs/:name/logs",
    needs("training:read", {
      summary: "The last lines of each node's trainer log (`tail`, default 100), of one `node` or `attempt`",
      query: logQuery,
    }),
    async (request, reply) => {
      const { name } = nameParam.parse(request.params);
      const q = logQuery.parse(request.query);
      const res = await callUnary(
        training.getJobLogs.bind(training),
        {
          namespace: q.namespace ?? "",
          name,
          team: request.principal.team,
          node: q.node,
          tailLines: q.tail ?? 0,
          attempt: q.attempt,
        },
        unary(request, reply),
      );
      return {
        object: "list",
        name,
        data: res.nodes.map((n) => ({
          node: n.node,
          attempt: n.attempt,
          source: n.source,
          text: n.text,
          ...(n.message ? { message: n.message } : {}),
        })),
      };
    },
  );

  app.delete("/v1/training/jobs/:name", needs("training:write"), async (request, reply) => {
    const { name } = nameParam.parse(request.params);
    const q = jobQuery.parse(request.query);
    const namespace = q.namespace ?? "";
    await callUnary(
      training.deleteJob.bind(training),
      { namespace, name, team: request.principal.team },
      unary(request, reply),
    );
    return { name, namespace, deleted: true };
  });

  // Custom methods, `POST /v1/training/jobs/{name}:suspend` and `:resume` (one route: the router
  // cannot tell two `:name:<verb>` patterns apart).
  app.post("/v1/training/jobs/:target", needs("training:write"), async (request, reply) => {
    const { target } = jobAction.parse(request.params);
    const [name, verb] = target.split(":") as [string, "suspend" | "resume"];
    const q = jobQuery.parse(request.query);
    const method = verb === "suspend" ? training.suspendJob : training.resumeJob;
    const res = await callUnary(
      method.bind(training),
      { namespace: q.namespace ?? "", name, team: request.principal.team },
      unary(request, reply),
    );
    return jobJson(res.job);
  });
}

type AnswerTail = Pick<
  ragProto.AnswerResponse,
  "citations" | "invalidCitations" | "promptTokens" | "completionTokens"
>;

/** The citations and usage of an answer, as both the whole and the streamed answer end. */
function answerTail(res: AnswerTail) {
  return {
    citations: res.citations.map((c) => ({
      n: c.number,
      document_id: c.documentId,
      chunk_id: c.chunkId,
      ...positionJson(c),
    })),
    invalid_citations: res.invalidCitations,
    usage: {
      prompt_tokens: res.promptTokens,
      completion_tokens: res.completionTokens,
      total_tokens: res.promptTokens + res.completionTokens,
    },
  };
}

function passageJson(r: ragProto.SearchResult, i: number) {
  return {
    n: i + 1,
    document_id: r.documentId,
    chunk_id: r.chunkId,
    score: r.score,
    text: r.text,
    metadata: JSON.parse(r.metadataJson || "{}") as unknown,
    ...positionJson(r),
  };
}

/** One AnswerStream event as the gateway sends it. */
function answerEventJson(ev: NonNullable<ragProto.AnswerStreamResponse["event"]>) {
  switch (ev.$case) {
    case "passages":
      return {
        object: "rag.answer.passages",
        passages: ev.passages.passages.map(passageJson),
        model: ev.passages.model,
      };
    case "delta":
      return { object: "rag.answer.delta", delta: ev.delta };
    case "final":
      return { object: "rag.answer.done", ...answerTail(ev.final) };
  }
}

/** What a streamed answer has sent: its text so far and, once it ended, its tokens. */
interface AnswerSeen {
  text: string;
  used?: number;
}

async function relayAnswerEvent(msg: ragProto.AnswerStreamResponse, sse: SseWriter, seen: AnswerSeen) {
  const ev = msg.event;
  if (!ev) return;
  if (ev.$case === "delta") seen.text += ev.delta;
  if (ev.$case === "final") seen.used = ev.final.promptTokens + ev.final.completionTokens;
  await sse.send(answerEventJson(ev));
}
