import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditEntry, AuditOutcome, AuditSink } from "../audit/log.js";
import { AuthenticationError } from "./auth.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Facts the audit hook needs that only handlers and the error boundary know. */
    auditContext: { target?: string; reason?: string; claimedKeyId?: string };
  }
}

/** Who and where, from a request: the fields every audit entry about a request carries. */
export function requestAuditFields(
  request: FastifyRequest,
): Pick<AuditEntry, "actor" | "team" | "sourceIp" | "requestId"> {
  const p = request.principal as FastifyRequest["principal"] | null;
  return {
    actor: p?.subject ?? request.auditContext?.claimedKeyId ?? "",
    team: p?.team ?? "",
    sourceIp: request.ip,
    requestId: String(request.id),
  };
}

function outcomeOf(status: number): AuditOutcome {
  if (status === 401 || status === 403) return "denied";
  return status < 400 ? "success" : "failure";
}

function routeName(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? request.url.split("?")[0]}`;
}

/** Admin routes are audited whatever the outcome; others only when authentication, RBAC or a budget refused. */
export function auditEntryFor(request: FastifyRequest, status: number): AuditEntry | undefined {
  const ctx = request.auditContext ?? {};
  const base = { ...requestAuditFields(request), status, outcome: outcomeOf(status) } as const;
  if (status === 401) {
    return { ...base, action: "auth.unauthenticated", target: routeName(request), reason: ctx.reason ?? "" };
  }
  if (status === 429 && ctx.reason === "insufficient_quota") {
    return {
      ...base,
      outcome: "denied",
      action: "budget.refused",
      target: routeName(request),
      reason: ctx.reason,
    };
  }
  const permission = request.routeOptions.config?.permission;
  if (status === 403 && !permission?.startsWith("admin:")) {
    return { ...base, action: "auth.forbidden", target: routeName(request), reason: ctx.reason ?? "" };
  }
  if (!permission?.startsWith("admin:")) return undefined;
  return {
    ...base,
    action: request.routeOptions.config.auditAction ?? routeName(request),
    target: ctx.target ?? targetFromRequest(request),
    reason: ctx.reason ?? "",
  };
}

function targetFromRequest(request: FastifyRequest): string {
  const params = request.params as Record<string, unknown> | undefined;
  const body = request.body as Record<string, unknown> | undefined;
  const candidate = params?.id ?? params?.["*"] ?? body?.id ?? body?.name;
  return typeof candidate === "string" ? candidate : "";
}

/**
 * Audits every admin action and every 401/403, once per request, after the response.
 * `noteError` is called by the error boundary so the entry carries the error's reason.
 */
export function auditRequests(app: FastifyInstance, audit: AuditSink): void {
  app.addHook("onResponse", async (request, reply) => {
    const entry = auditEntryFor(request, reply.statusCode);
    if (entry) audit.record(entry);
  });
}

export function noteError(request: FastifyRequest, err: unknown, code: string | null): void {
  request.auditContext ??= {};
  request.auditContext.reason = code ?? "";
  if (err instanceof AuthenticationError && err.claimedKeyId)
    request.auditContext.claimedKeyId = err.claimedKeyId;
}
