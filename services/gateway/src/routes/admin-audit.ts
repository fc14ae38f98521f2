import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AuditLog, AuditRecord } from "../audit/log.js";
import { needs } from "../http/rbac.js";
import { instant } from "./admin-keys.js";

interface Deps {
  audit: AuditLog;
}

const auditQuery = z.object({
  from: instant.optional(),
  to: instant.optional(),
  action: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function entryView(r: AuditRecord) {
  return {
    id: r.id,
    at: r.at.toISOString(),
    actor: r.actor,
    team: r.team,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    status: r.status,
    reason: r.reason,
    source_ip: r.sourceIp,
    request_id: r.requestId,
    details: r.details,
  };
}

/** The audit log, newest first: `from` inclusive, `to` exclusive, `action` exact or `prefix.*`. */
export function adminAuditRoutes(app: FastifyInstance, deps: Deps): void {
  app.get(
    "/v1/admin/audit",
    needs("admin:audit", {
      auditAction: "audit.read",
      summary: "Read the audit log, newest first",
      query: auditQuery,
    }),
    async (request) => {
      const q = auditQuery.parse(request.query);
      // This replica's queued entries first, so a caller sees what it just did.
      await deps.audit.flush();
      return { object: "list", data: (await deps.audit.query(q)).map(entryView) };
    },
  );
}
