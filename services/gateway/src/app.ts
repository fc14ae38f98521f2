import { randomUUID } from "node:crypto";
import { childTrace, type Logger, parseTraceparent, type TraceContext, withTrace } from "@sloughgpt/runtime";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Upstreams } from "./clients.js";
import type { Principal } from "./http/auth.js";
import { toHttpError } from "./http/errors.js";
import { adminModelRoutes } from "./routes/admin-models.js";
import { openaiRoutes } from "./routes/openai.js";
import { platformRoutes } from "./routes/platform.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface AppDeps {
  upstreams: Upstreams;
  authenticate: (authorization: string | undefined) => Principal;
  logger: Logger;
  bodyLimit: number;
  generationTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** Aborted when shutdown stops waiting for in-flight requests: open streams end with [DONE]. */
  shutdownSignal: AbortSignal;
}

const headerValue = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The public HTTP API. Pure wiring: every dependency comes in through `deps`. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const traces = new WeakMap<object, TraceContext>();
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // The request's trace is fixed when its logger is made, so even "incoming request" carries it.
    childLoggerFactory: (logger, bindings, opts, rawReq) => {
      const trace = childTrace(parseTraceparent(headerValue(rawReq.headers.traceparent)));
      traces.set(rawReq, trace);
      return logger.child({ ...bindings, trace_id: trace.traceId }, opts);
    },
    bodyLimit: deps.bodyLimit,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.addContentTypeParser(
    ["application/yaml", "application/x-yaml", "text/yaml"],
    { parseAs: "string" },
    (_r, body, done) => done(null, body),
  );
  // Clients send `content-type: application/json` on bodiless requests (DELETE) too: an empty body
  // is no body, anything else must be JSON.
  const jsonParser = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body === "") done(null, undefined);
    else jsonParser(request, body.toString(), done);
  });
  app.decorateRequest("principal", null as unknown as Principal);
  // Continue the caller's trace (W3C traceparent) or start one: the rest of the request, its logs and
  // its upstream calls run inside it.
  app.addHook("onRequest", (request, _reply, done) => {
    withTrace(traces.get(request.raw) ?? childTrace(), () => done());
  });
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    request.principal = deps.authenticate(request.headers.authorization);
  });
  app.setErrorHandler((err, request, reply) => {
    const e = toHttpError(err);
    if (e.status >= 500) request.log.error({ err }, "Failed request");
    else request.log.info({ status: e.status, code: e.body.error.code }, "Rejected request");
    void reply.code(e.status).headers(e.headers).send(e.body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: {
        message: `Unknown route ${request.method} ${request.url.split("?")[0]}`,
        type: "invalid_request_error",
        param: null,
        code: "unknown_route",
      },
    });
  });
  openaiRoutes(app, deps);
  adminModelRoutes(app, deps);
  platformRoutes(app, { ...deps, reasoningTimeoutMs: deps.generationTimeoutMs });
  return app;
}
