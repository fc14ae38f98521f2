import type { monitoring as monitoringProto } from "@sloughgpt/proto";
import { callUnary } from "@sloughgpt/runtime";
import type { FastifyInstance } from "fastify";
import type { Upstreams } from "../clients.js";
import type { Principal } from "../http/auth.js";
import { needs } from "../http/rbac.js";
import { can } from "../identity/permissions.js";
import { clientGone } from "./openai.js";

interface Deps {
  upstreams: Upstreams;
  upstreamTimeoutMs: number;
  shutdownSignal: AbortSignal;
}

/**
 * Fleet health as a caller may see it: every component's name, kind and health for anyone with
 * `status:read`; addresses, details and the platform-wide usage totals (all teams) for admins only.
 */
export function statusView(res: monitoringProto.FleetStatusResponse, who: Pick<Principal, "role">) {
  const admin = can(who.role, "admin:teams");
  return {
    healthy: res.healthy,
    checked_at: new Date(res.checkedUnixMs).toISOString(),
    components: res.components.map((c) => ({
      name: c.name,
      kind: c.kind,
      healthy: c.healthy,
      ...(admin ? { target: c.target, detail: c.detail, latency_ms: c.latencyMs } : {}),
    })),
    ...(admin
      ? {
          usage: {
            requests: res.usage?.requests ?? 0,
            prompt_tokens: res.usage?.promptTokens ?? 0,
            completion_tokens: res.usage?.completionTokens ?? 0,
          },
        }
      : {}),
  };
}

export function statusRoutes(app: FastifyInstance, deps: Deps): void {
  const { monitoring } = deps.upstreams;
  app.get(
    "/v1/status",
    needs("status:read", { summary: "Fleet health (addresses, details and usage totals for admins)" }),
    async (request, reply) => {
      const res = await callUnary(
        monitoring.fleetStatus.bind(monitoring),
        {},
        {
          deadlineMs: deps.upstreamTimeoutMs,
          signal: clientGone(reply, deps.shutdownSignal),
        },
      );
      return statusView(res, request.principal);
    },
  );
}
