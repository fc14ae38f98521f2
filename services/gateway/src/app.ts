import { requestIdFrom, toHttpError } from "@sloughgpt/openai";
import { childTrace, type Logger, parseTraceparent, type TraceContext, withTrace } from "@sloughgpt/runtime";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import type { AuditLog } from "./audit/log.js";
import { maskDeep } from "./audit/mask.js";
import type { Upstreams } from "./clients.js";
import { auditRequests, noteError } from "./http/audit.js";
import type { Authenticate, Principal } from "./http/auth.js";
import { DOCS_PAGE } from "./http/docs-page.js";
import { openApiDocument } from "./http/openapi.js";
import { authorize, checkModelAccess, type RouteDeclaration, requireRoutePermissions } from "./http/rbac.js";
import type { Identity } from "./identity/identity.js";
import type { RequestGate } from "./limits/gate.js";
import { adminAuditRoutes } from "./routes/admin-audit.js";
import { adminKeyRoutes } from "./routes/admin-keys.js";
import { adminModelRoutes } from "./routes/admin-models.js";
import { adminTeamRoutes } from "./routes/admin-teams.js";
import { openaiRoutes } from "./routes/openai.js";
import { platformRoutes } from "./routes/platform.js";
import { statusRoutes } from "./routes/status.js";
import { usageRoutes } from "./routes/usage.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyInstance {
    /** Every route with the permission it declared (the RBAC test walks them all). */
    routePermissions: readonly RouteDeclaration[];
  }
}

export interface AppDeps {
  upstreams: Upstreams;
  authenticate: Authenticate;
  logger: Logger;
  bodyLimit: number;
  generationTimeoutMs: number;
  upstreamTimeoutMs: number;
  /** Aborted when shutdown stops waiting for in-flight requests: open streams end with [DONE]. */
  shutdownSignal: AbortSignal;
  /** Issued keys and teams. Without it only the bootstrap key (and OIDC tokens) authenticate and the key and team routes are absent. */
  identity?: Identity;
  /** Without it nothing is audited and `GET /v1/admin/audit` is absent. */
  audit?: AuditLog;
  /** Log request bodies, masked (LOG_PROMPTS). */
  logPrompts?: boolean;
  /** Which X-Forwarded-For hops to believe for the client address (TRUST_PROXY). */
  trustProxy?: boolean | number | string[];
  /** Budgets and rate limits on model requests; without it none are enforced. */
  gate?: RequestGate;
  /** Bounds one usage export call; default: generationTimeoutMs. */
  exportTimeoutMs?: number;
}

const headerValue = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);

/** The version the OpenAPI document states: the API's, not a build's. */
const API_VERSION = "1.0.0";

/** The public HTTP API. Pure wiring: every dependency comes in through `deps`. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const traces = new WeakMap<object, TraceContext>();
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // The request's trace is fixed when its logger is made, so every line of the request carries it.
    childLoggerFactory: (logger, bindings, opts, rawReq) => {
      const trace = childTrace(parseTraceparent(headerValue(rawReq.headers.traceparent)));
      traces.set(rawReq, trace);
      return logger.child({ ...bindings, trace_id: trace.traceId }, opts);
    },
    bodyLimit: deps.bodyLimit,
    trustProxy: (deps.trustProxy ?? false) as FastifyServerOptions["trustProxy"],
    // One access line per request (below) instead of fastify's two: logging is a measurable share of
    // the gateway's work per request.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => requestIdFrom(req.headers["x-request-id"]),
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
  app.decorateRequest("auditContext", null as unknown as FastifyRequest["auditContext"]);
  // Registered before any route: from here on a route without a permission fails start-up.
  app.decorate("routePermissions", requireRoutePermissions(app));
  // Continue the caller's trace (W3C traceparent) or start one: the rest of the request, its logs and
  // its upstream calls run inside it.
  app.addHook("onRequest", (request, _reply, done) => {
    withTrace(traces.get(request.raw) ?? childTrace(), () => done());
  });
  // Authentication and RBAC run before the body is read: a refused request never has it parsed.
  app.addHook("onRequest", async (request, reply) => {
    request.auditContext = {};
    reply.header("x-request-id", request.id);
    if (request.routeOptions.config.public) return;
    request.principal = await deps.authenticate(request.headers.authorization);
    authorize(request);
  });
  app.addHook("preHandler", async (request) => {
    if (request.routeOptions.config.public) return;
    checkModelAccess(request.principal, request.routeOptions.config.permission, request.body);
    if (deps.logPrompts && request.body !== undefined) {
      request.log.info({ body: maskDeep(request.body) }, "Received request body");
    }
  });
  app.addHook("onResponse", async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 100) / 100,
        key: (request.principal as Principal | null)?.keyId,
      },
      "Completed request",
    );
  });
  if (deps.audit) auditRequests(app, deps.audit);
  app.setErrorHandler((err, request, reply) => {
    const e = toHttpError(err);
    noteError(request, err, e.body.error.code);
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
  // Public: what the API is, not what it holds. Built on first request, once every route exists.
  let openapi: object | undefined;
  app.get("/openapi.json", { config: { public: true } }, async () => {
    openapi ??= openApiDocument(app.routePermissions, { version: API_VERSION });
    return openapi;
  });
  app.get("/docs", { config: { public: true } }, async (_request, reply) =>
    reply.type("text/html; charset=utf-8").send(DOCS_PAGE),
  );
  openaiRoutes(app, deps);
  adminModelRoutes(app, deps);
  if (deps.identity) {
    adminKeyRoutes(app, { identity: deps.identity });
    adminTeamRoutes(app, { identity: deps.identity });
  }
  if (deps.audit) adminAuditRoutes(app, { audit: deps.audit });
  platformRoutes(app, { ...deps, reasoningTimeoutMs: deps.generationTimeoutMs });
  statusRoutes(app, deps);
  usageRoutes(app, { ...deps, exportTimeoutMs: deps.exportTimeoutMs ?? deps.generationTimeoutMs });
  return app;
}
