import { InvalidArgumentError, NotFoundError } from "@sloughgpt/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { needs } from "../http/rbac.js";
import type { Identity } from "../identity/identity.js";
import { ROLES } from "../identity/permissions.js";
import type { ApiKey } from "../identity/types.js";
import { limitFields, limitsFromBody, limitsView, periodNeedsBudget, teamName } from "./admin-teams.js";

interface Deps {
  identity: Identity;
}

/** An ISO 8601 timestamp with an offset, or a date (midnight UTC). */
export const instant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: "expected an ISO 8601 date or timestamp",
  })
  .transform((s) => new Date(s));

const createBody = z
  .strictObject({
    name: z.string().min(1).max(200),
    team: teamName,
    role: z.enum(ROLES),
    ...limitFields,
    models: z.array(z.string().min(1)).min(1, "omit models to allow every model").max(256).nullish(),
    expires_at: instant.nullish(),
  })
  .refine(...periodNeedsBudget);

const listQuery = z.object({ team: z.string().optional() });
const idParam = z.object({ id: z.string().min(1) });

export function keyView(k: ApiKey) {
  return {
    id: k.id,
    object: "api_key",
    name: k.name,
    team: k.team,
    role: k.role,
    models: k.models,
    ...limitsView(k.limits),
    expires_at: k.expiresAt?.toISOString() ?? null,
    revoked: k.revokedAt !== null,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
    created_by: k.createdBy,
  };
}

/**
 * API keys: the secret is in the creation response only; listings never carry secrets or hashes.
 * DELETE revokes (the row stays, for the audit trail) on every replica at once.
 */
export function adminKeyRoutes(app: FastifyInstance, deps: Deps): void {
  app.post(
    "/v1/admin/keys",
    needs("admin:keys", {
      auditAction: "keys.create",
      summary: "Issue an API key (the secret is shown once)",
      body: createBody,
    }),
    async (request, reply) => {
      const b = createBody.parse(request.body);
      if (b.expires_at && b.expires_at.getTime() <= Date.now()) {
        throw new InvalidArgumentError("expires_at must be in the future", { param: "expires_at" });
      }
      const { apiKey, key } = await deps.identity.createKey({
        name: b.name,
        team: b.team,
        role: b.role,
        models: b.models ? [...new Set(b.models)] : null,
        limits: limitsFromBody(b),
        expiresAt: b.expires_at ?? null,
        createdBy: request.principal.subject,
      });
      request.auditContext.target = apiKey.id;
      reply.code(201);
      return { ...keyView(apiKey), key };
    },
  );

  app.get(
    "/v1/admin/keys",
    needs("admin:keys", { auditAction: "keys.list", summary: "List API keys", query: listQuery }),
    async (request) => {
      const q = listQuery.parse(request.query);
      return { object: "list", data: (await deps.identity.listKeys({ team: q.team })).map(keyView) };
    },
  );

  app.delete(
    "/v1/admin/keys/:id",
    needs("admin:keys", {
      auditAction: "keys.revoke",
      summary: "Revoke an API key (every replica within a second)",
    }),
    async (request) => {
      const { id } = idParam.parse(request.params);
      const key = await deps.identity.revokeKey(id);
      if (!key) throw new NotFoundError(`No API key '${id}'`, { param: "id", reason: "key_not_found" });
      return keyView(key);
    },
  );
}
