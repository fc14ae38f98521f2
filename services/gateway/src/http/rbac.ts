import { PermissionDeniedError } from "@sloughgpt/runtime";
import type { FastifyContextConfig, FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import type { z } from "zod";
import { can, isPermission, MODEL_SCOPED, type Permission } from "../identity/permissions.js";
import type { Principal } from "./auth.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** What the caller's role must hold to use the route. Every route declares one. */
    permission?: Permission;
    /** The action's name in the audit log (admin routes); defaults to `METHOD url`. */
    auditAction?: string;
    /** What the OpenAPI document says of the route. */
    doc?: RouteDoc;
    /** Served without authentication (the API description); needs no permission. */
    public?: boolean;
  }
}

/** A route as the OpenAPI document describes it: the same zod schemas its handler parses with. */
export interface RouteDoc {
  summary: string;
  body?: z.ZodType;
  query?: z.ZodType;
}

export interface RouteDeclaration {
  method: string;
  url: string;
  permission: Permission;
  doc?: RouteDoc | undefined;
}

export class UndeclaredPermissionError extends Error {
  constructor(method: string, url: string) {
    super(`route ${method} ${url} declares no permission: add { config: { permission } }`);
    this.name = "UndeclaredPermissionError";
  }
}

/**
 * From now on, registering a route without `config.permission` throws, so an undeclared route
 * stops the gateway at start-up. Returns the declarations as routes are registered.
 */
export function requireRoutePermissions(app: FastifyInstance): RouteDeclaration[] {
  const declared: RouteDeclaration[] = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    if (route.config?.public) return;
    const permission = route.config?.permission;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!isPermission(permission)) throw new UndeclaredPermissionError(methods.join(","), route.url);
    for (const method of methods)
      declared.push({ method, url: route.url, permission, doc: route.config?.doc });
  });
  return declared;
}

export function insufficientPermissions(role: string, permission: string): PermissionDeniedError {
  return new PermissionDeniedError(`Role '${role}' lacks the permission '${permission}' this route needs`, {
    reason: "insufficient_permissions",
  });
}

/** Refuses a caller whose role lacks the matched route's permission (an unmatched route 404s). */
export function authorize(request: FastifyRequest): void {
  if (request.routeOptions.url === undefined || request.routeOptions.config.public) return;
  const permission = request.routeOptions.config.permission;
  // Unreachable while routes are registered through requireRoutePermissions; deny if not.
  if (!permission) throw insufficientPermissions(request.principal.role, "(undeclared)");
  if (!can(request.principal.role, permission))
    throw insufficientPermissions(request.principal.role, permission);
}

/**
 * A key limited to some models may name only those in `model`; a route that may fall back to a
 * default model (reasoning) must name one.
 */
export function checkModelAccess(
  principal: Pick<Principal, "models">,
  permission: Permission | undefined,
  body: unknown,
): void {
  const allowed = principal.models;
  if (!allowed || !permission || !MODEL_SCOPED.has(permission)) return;
  const model = (body as { model?: unknown } | null | undefined)?.model;
  // Chat, completions and embeddings refuse a missing or malformed model themselves (400).
  if (typeof model !== "string" && permission !== "reasoning:create") return;
  if (typeof model === "string" && allowed.includes(model)) return;
  throw new PermissionDeniedError(
    `This API key may only use the models ${allowed.map((m) => `'${m}'`).join(", ")}` +
      (typeof model === "string" ? `, not '${model}'` : "; name one in 'model'"),
    { param: "model", reason: "model_not_allowed" },
  );
}

/**
 * The route options that declare a route's permission and, optionally, its audit action name
 * (a string) or its documentation with the schemas its handler parses.
 */
export function needs(
  permission: Permission,
  extra?: string | (RouteDoc & { auditAction?: string }),
): { config: FastifyContextConfig } {
  if (extra === undefined) return { config: { permission } };
  if (typeof extra === "string") return { config: { permission, auditAction: extra } };
  const { auditAction, ...doc } = extra;
  return { config: { permission, doc, ...(auditAction ? { auditAction } : {}) } };
}
