import http from "node:http";
import type { AddressInfo } from "node:net";
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
  HttpRequestError,
  type Kind,
  requestIdFrom,
  requestSignal,
  responseMeta,
  SseWriter,
  toHttpError,
} from "@sloughgpt/openai";
import type { serving } from "@sloughgpt/proto";
import { childTrace, type Logger, parseTraceparent, withTrace } from "@sloughgpt/runtime";
import type { Embed } from "../embedding.js";
import type { Generate } from "../generation.js";
import { toProtoModel } from "../models.js";
import type { ModelRegistry } from "../registry/registry.js";
import { bearerCheck, readJson } from "./request.js";

export interface OpenAIApiOptions {
  port: number;
  host: string;
  /** When set, every request must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  bodyLimitBytes: number;
  /** The same generation path as gRPC Generate. */
  generate: Generate;
  /** The same embedding path as gRPC Embed. */
  embed: Embed;
  registry: ModelRegistry;
  logger: Logger;
}

export interface OpenAIApi {
  port: number;
  /** Stops accepting requests, waits up to graceMs for those in flight, then cancels the rest. */
  close(graceMs: number): Promise<void>;
}

/** What a route gets: the request, its response, and a signal that cancels its work. */
interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  requestId: string;
  signal: AbortSignal;
  logger: Logger;
}

type Route = (x: Exchange, param: string | undefined) => Promise<void>;

/**
 * An OpenAI-compatible HTTP API on serving itself (`/v1/models`, `/v1/chat/completions`,
 * `/v1/completions`, `/v1/embeddings`), like vLLM's or llama-server's. Requests take the gRPC
 * Generate and Embed paths; errors become OpenAI's error JSON at one place, `fail`.
 */
export async function startOpenAIApi(o: OpenAIApiOptions): Promise<OpenAIApi> {
  const logger = o.logger.child({ component: "openai-api" });
  const authorize = bearerCheck(o.apiKey);
  const shutdown = new AbortController();
  let closing = false;
  // Handlers under way: at shutdown, cancelled ones still finish their work (metering what they
  // generated) before the process goes on to publish the last usage events.
  const inFlight = new Set<Promise<void>>();
  const routes = openaiRoutes(o);

  const server = http.createServer((req, res) => {
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    res.setHeader("x-request-id", requestId);
    if (closing) res.setHeader("connection", "close");
    // While draining, a kept-alive connection closes once its response is out instead of idling.
    res.once("finish", () => closing && setImmediate(() => server.closeIdleConnections()));
    const x = {
      req,
      res,
      requestId,
      signal: requestSignal(res, shutdown.signal, "serving is shutting down"),
      logger,
    };
    withTrace(childTrace(parseTraceparent(headerOf(req, "traceparent"))), () => {
      const handled = (async () => {
        try {
          authorize(headerOf(req, "authorization"));
          const [route, param] = match(routes, req);
          await route(x, param);
        } catch (err) {
          fail(x, err);
        }
      })();
      inFlight.add(handled);
      void handled.finally(() => inFlight.delete(handled));
    });
  });
  // Idle kept-alive connections stay open longer than the usual proxy's idle timeout (nginx's
  // upstream keepalive_timeout and cloud load balancers: 60 s). With Node's 5 s default the server
  // closed connections a proxy or client was about to reuse, and that request failed with ECONNRESET.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, "Started the OpenAI-compatible API");
  return {
    port,
    close: async (graceMs) => {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        logger.warn({ graceMs }, "Cancelled in-flight HTTP requests after the shutdown grace period");
        shutdown.abort();
        server.closeAllConnections();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      await settledWithin([...inFlight], HANDLER_WAIT_MS);
    },
  };
}

const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** After the grace period's cancellations, how long handlers get to wind up. */
const HANDLER_WAIT_MS = 2_000;

async function settledWithin(work: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(work),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

const headerOf = (req: http.IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The one error boundary: OpenAI's error JSON with the gateway's statuses; never a stack. */
function fail(x: Exchange, err: unknown): void {
  const e = toHttpError(err);
  if (e.status >= 500) x.logger.error({ err, requestId: x.requestId }, "Failed request");
  if (x.res.headersSent) {
    // A stream already under way reports its error in-band (see streamCompletion); nothing is left to say.
    x.res.end();
    return;
  }
  // A body left unread (too large, refused before reading) must not be taken for the next request.
  const close: Record<string, string> = e.status === 413 || !x.req.complete ? { connection: "close" } : {};
  sendJson(x.res, e.status, e.body, { ...e.headers, ...close });
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function match(routes: Record<string, Route>, req: http.IncomingMessage): [Route, string | undefined] {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const model = /^\/v1\/models\/(.+)$/.exec(path);
  const key = model ? "/v1/models/{id}" : path;
  const route = routes[`${req.method} ${key}`];
  if (route) return [route, model ? decodeParam(model[1] ?? "") : undefined];
  if (Object.keys(routes).some((r) => r.endsWith(` ${key}`))) {
    throw new HttpRequestError(405, "method_not_allowed", `${req.method} is not allowed on ${path}`);
  }
  throw new HttpRequestError(404, "not_found", `No route for ${req.method} ${path}`);
}

function decodeParam(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (err) {
    throw new HttpRequestError(400, "invalid_path", `malformed path segment '${text}'`, { cause: err });
  }
}

function openaiRoutes(o: OpenAIApiOptions): Record<string, Route> {
  const models = () => availableModels(o.registry.models().map(toProtoModel));
  return {
    "GET /v1/models": async (x) => sendJson(x.res, 200, { object: "list", data: models() }),
    "GET /v1/models/{id}": async (x, id) => sendJson(x.res, 200, findModel(models(), id ?? "")),
    "POST /v1/chat/completions": (x) => generateRoute(o, x, "chat"),
    "POST /v1/completions": (x) => generateRoute(o, x, "text"),
    "POST /v1/embeddings": async (x) => {
      const body = embeddingRequest.parse(await readJson(x.req, o.bodyLimitBytes));
      const req = {
        model: body.model,
        input: embeddingInputs(body),
        keyId: "",
        team: "",
        requestId: x.requestId,
      };
      const res = await o.embed(req, { signal: x.signal, logger: x.logger });
      sendJson(x.res, 200, embeddingResponse(body, res));
    },
  };
}

/** The validated body as serving's Generate request, and what the response needs of it. */
function parseGenerate(kind: Kind, raw: unknown, x: Exchange) {
  // No API keys or teams here: requests are metered with empty ones.
  const ids = { keyId: "", team: "", requestId: x.requestId, cache: cacheMode(x.req.headers) };
  if (kind === "chat") {
    const body = chatCompletionRequest.parse(raw);
    return { body, req: chatToGenerate(body, ids) };
  }
  const body = completionRequest.parse(raw);
  return { body, req: completionToGenerate(body, ids) };
}

async function generateRoute(o: OpenAIApiOptions, x: Exchange, kind: Kind): Promise<void> {
  const { body, req } = parseGenerate(kind, await readJson(x.req, o.bodyLimitBytes), x);
  const meta = responseMeta(kind, body.model);
  const ctx = { signal: x.signal, logger: x.logger };
  if (body.stream) {
    const includeUsage = body.stream_options?.include_usage === true;
    return streamCompletion(o.generate, req, { kind, meta, includeUsage }, x);
  }
  let text = "";
  let final: serving.GenerateFinal | undefined;
  await o.generate(
    req,
    async ({ event }) => {
      if (event?.$case === "delta") text += event.delta;
      else if (event?.$case === "final") final = event.final;
    },
    ctx,
  );
  if (x.signal.aborted) return;
  const cache = cacheHeader(final);
  sendJson(x.res, 200, completion(kind, meta, text, final), cache ? { "x-sloughgpt-cache": cache } : {});
}

/**
 * Server-sent events. The response is committed with the generation's first message, so an error
 * before it (an unknown model, a full queue) keeps its HTTP status; one after it becomes an error
 * event before `[DONE]`.
 */
async function streamCompletion(
  generate: Generate,
  req: serving.GenerateRequest,
  call: ConstructorParameters<typeof CompletionChunks>[1],
  x: Exchange,
): Promise<void> {
  const sse = new SseWriter(x.res);
  let chunks: CompletionChunks | undefined;
  const opened = async () => {
    if (!chunks) {
      sse.open({});
      chunks = new CompletionChunks(sse, call);
      await chunks.start();
    }
    return chunks;
  };
  try {
    await generate(req, async (msg) => (await opened()).write(msg), { signal: x.signal, logger: x.logger });
    if (x.signal.aborted) return;
    await (await opened()).end();
  } catch (err) {
    if (!chunks) throw err;
    if (!x.signal.aborted) {
      const e = toHttpError(err);
      x.logger.warn({ status: e.status, requestId: x.requestId }, "Failed stream after it started");
      await sse.send(e.body);
    }
  }
  sse.done();
}
