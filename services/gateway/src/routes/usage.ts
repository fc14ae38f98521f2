import { Readable } from "node:stream";
import { monitoring } from "@sloughgpt/proto";
import { callStream, callUnary, PermissionDeniedError } from "@sloughgpt/runtime";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Upstreams } from "../clients.js";
import type { Principal } from "../http/auth.js";
import { needs } from "../http/rbac.js";
import { can } from "../identity/permissions.js";
import { csvLine, DAILY_COLUMNS, dailyLine, RECORD_COLUMNS, recordLine } from "../usage/csv.js";
import { clientGone } from "./openai.js";

interface Deps {
  upstreams: Upstreams;
  upstreamTimeoutMs: number;
  /** Bounds one export call (the longest a CSV download may take). */
  exportTimeoutMs: number;
  shutdownSignal: AbortSignal;
}

const GROUPS = {
  team: monitoring.UsageGroupBy.USAGE_GROUP_BY_TEAM,
  key: monitoring.UsageGroupBy.USAGE_GROUP_BY_KEY,
  model: monitoring.UsageGroupBy.USAGE_GROUP_BY_MODEL,
  day: monitoring.UsageGroupBy.USAGE_GROUP_BY_DAY,
} as const;

const text = z.string().min(1).max(512).optional();
const range = {
  /** A UTC date (YYYY-MM-DD) or an RFC 3339 instant; default: the first day of this month. */
  from: text,
  /** A date includes the whole day; an instant is exclusive. Default: today. */
  to: text,
  /** Admins: one team (default: all). Others: their own team only. */
  team: text,
  key_id: text,
  model: text,
};

export const usageQuery = z.object({
  /** Comma-separated: team, key, model, day. */
  group_by: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const names = (v ?? "").split(",").filter(Boolean);
      const bad = names.find((n) => !(n in GROUPS));
      if (bad) ctx.addIssue({ code: "custom", message: `'${bad}' is not one of team, key, model, day` });
      return names.map((n) => GROUPS[n as keyof typeof GROUPS]);
    }),
  ...range,
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

export const usageExportQuery = z.object({
  /** `records` (one line per request) or `daily` (rollups; whole days only). */
  kind: z.enum(["records", "daily"]).default("records"),
  ...range,
});

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** This month so far, as whole UTC days (`to` inclusive). */
export function defaultRange(nowMs: number): { from: string; to: string } {
  const today = isoDay(nowMs);
  return { from: `${today.slice(0, 7)}-01`, to: today };
}

/** The range a query asked for, this month so far where it did not say. */
const rangeOf = (q: { from?: string | undefined; to?: string | undefined }) => ({
  ...defaultRange(Date.now()),
  ...(q.from ? { from: q.from } : {}),
  ...(q.to ? { to: q.to } : {}),
});

/** Admins see every team (or the one they name); anyone else sees only their own. */
export function usageTeam(p: Pick<Principal, "role" | "team">, requested: string | undefined): string {
  if (can(p.role, "admin:teams")) return requested ?? "";
  if (requested !== undefined && requested !== p.team) {
    throw new PermissionDeniedError(`This key may only read the usage of team '${p.team}'`, {
      param: "team",
      reason: "team_not_allowed",
    });
  }
  return p.team;
}

function usageRowJson(r: monitoring.UsageRow, groups: readonly monitoring.UsageGroupBy[]) {
  const has = (g: monitoring.UsageGroupBy) => groups.includes(g);
  return {
    ...(has(GROUPS.team) ? { team: r.team } : {}),
    ...(has(GROUPS.key) ? { key_id: r.keyId } : {}),
    ...(has(GROUPS.model) ? { model: r.model } : {}),
    ...(has(GROUPS.day) ? { day: r.day } : {}),
    requests: r.requests,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    total_tokens: r.promptTokens + r.completionTokens,
    cached_tokens: r.cachedTokens,
    cache_hits: r.cacheHits,
    error_requests: r.errorRequests,
    cancelled_requests: r.cancelledRequests,
    unpriced_requests: r.unpricedRequests,
    cost_usd: r.costUsd,
  };
}

export function usageRoutes(app: FastifyInstance, deps: Deps): void {
  const { monitoring: client } = deps.upstreams;

  app.get(
    "/v1/usage",
    needs("usage:read", {
      summary: "Usage and cost, grouped by team, key, model and/or day",
      query: usageQuery,
    }),
    async (request, reply) => {
      const q = usageQuery.parse(request.query);
      const team = usageTeam(request.principal, q.team);
      const res = await callUnary(
        client.queryUsage.bind(client),
        {
          ...rangeOf(q),
          groupBy: q.group_by,
          team,
          keyId: q.key_id ?? "",
          model: q.model ?? "",
          limit: q.limit ?? 0,
        },
        {
          deadlineMs: deps.upstreamTimeoutMs,
          signal: clientGone(reply, deps.shutdownSignal),
        },
      );
      return {
        object: "list",
        from: res.from,
        to: res.to,
        truncated: res.truncated,
        data: res.rows.map((r) => usageRowJson(r, q.group_by)),
      };
    },
  );

  app.get(
    "/v1/usage/export.csv",
    needs("usage:read", { summary: "Usage records or daily rollups as CSV", query: usageExportQuery }),
    (request, reply) => exportCsv(deps, request, reply),
  );
}

/** Streams every matching row as CSV, calling ExportUsage page after page. */
async function exportCsv(deps: Deps, request: FastifyRequest, reply: FastifyReply) {
  const q = usageExportQuery.parse(request.query);
  const team = usageTeam(request.principal, q.team);
  const signal = clientGone(reply, deps.shutdownSignal);
  const client = deps.upstreams.monitoring;
  const base = {
    ...rangeOf(q),
    kind:
      q.kind === "daily"
        ? monitoring.UsageExportKind.USAGE_EXPORT_KIND_DAILY
        : monitoring.UsageExportKind.USAGE_EXPORT_KIND_RECORDS,
    team,
    keyId: q.key_id ?? "",
    model: q.model ?? "",
    limit: 0,
  };
  async function* lines(): AsyncGenerator<string> {
    yield csvLine(q.kind === "daily" ? DAILY_COLUMNS : RECORD_COLUMNS);
    let pageToken = "";
    do {
      const stream = callStream(
        client.exportUsage.bind(client),
        { ...base, pageToken },
        {
          deadlineMs: deps.exportTimeoutMs,
          signal,
        },
      );
      pageToken = "";
      for await (const msg of stream) {
        const chunk = msg.records.map(recordLine).join("") + msg.daily.map(dailyLine).join("");
        if (chunk) yield chunk;
        if (msg.nextPageToken) pageToken = msg.nextPageToken;
      }
    } while (pageToken);
  }
  const it = lines();
  // The header, then the first page before the 200 is sent: a bad range still gets its 400.
  const head = [await it.next(), await it.next()];
  async function* all(): AsyncGenerator<string> {
    for (const h of head) if (!h.done) yield h.value;
    if (head[1]?.done) return;
    yield* it;
  }
  const stamp = isoDay(Date.now());
  return reply
    .type("text/csv; charset=utf-8")
    .header("content-disposition", `attachment; filename="usage-${q.kind}-${stamp}.csv"`)
    .send(Readable.from(all()));
}
