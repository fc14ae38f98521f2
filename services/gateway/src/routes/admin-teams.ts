import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { needs } from "../http/rbac.js";
import type { Identity } from "../identity/identity.js";
import type { Limits, Team } from "../identity/types.js";

interface Deps {
  identity: Identity;
}

export const teamName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "1-64 letters, digits, '_', '.' or '-', starting alphanumeric");

const INT32_MAX = 2 ** 31 - 1;

/** Limit fields shared by keys and teams; omitted or null means no limit. */
export const limitFields = {
  // Bounded by the columns that store them (integer; numeric(18,6)): out of range is a 400, not a 500.
  rpm: z.number().int().min(1).max(INT32_MAX).nullish(),
  tpm: z.number().int().min(1).max(INT32_MAX).nullish(),
  budget_usd: z
    .number()
    .min(0)
    .lt(1e12)
    .refine((v) => Math.abs(v * 1e6 - Math.round(v * 1e6)) < 1e-6, "at most 6 decimals")
    .nullish(),
  budget_period: z.enum(["daily", "monthly"]).nullish(),
};

type LimitBody = { [K in keyof typeof limitFields]?: z.infer<(typeof limitFields)[K]> };

/** Refinement for bodies with limit fields: a period without a budget is refused. */
export const periodNeedsBudget: [(b: LimitBody) => boolean, { path: string[]; message: string }] = [
  (b) => !b.budget_period || (b.budget_usd !== undefined && b.budget_usd !== null),
  { path: ["budget_period"], message: "budget_period needs budget_usd" },
];

/** A budget without a period is monthly. */
export function limitsFromBody(b: LimitBody): Limits {
  const hasBudget = b.budget_usd !== undefined && b.budget_usd !== null;
  return {
    rpm: b.rpm ?? null,
    tpm: b.tpm ?? null,
    budgetUsd: b.budget_usd ?? null,
    budgetPeriod: hasBudget ? (b.budget_period ?? "monthly") : null,
  };
}

export function limitsView(l: Limits) {
  return { rpm: l.rpm, tpm: l.tpm, budget_usd: l.budgetUsd, budget_period: l.budgetPeriod };
}

const teamBody = z
  .strictObject({ name: teamName, ...limitFields })
  .refine(...periodNeedsBudget)
  .transform((b) => ({ name: b.name, limits: limitsFromBody(b) }));

function teamView(t: Team) {
  return {
    name: t.name,
    object: "team",
    ...limitsView(t.limits),
    created_at: t.createdAt.toISOString(),
    updated_at: t.updatedAt.toISOString(),
  };
}

/**
 * Teams and their shared limits. POST creates a team (201) or replaces its limits (200): keys
 * name teams freely, so a team may exist before anyone gave it limits.
 */
export function adminTeamRoutes(app: FastifyInstance, deps: Deps): void {
  app.post(
    "/v1/admin/teams",
    needs("admin:teams", {
      auditAction: "teams.upsert",
      summary: "Create or update a team and its limits",
      body: teamBody,
    }),
    async (request, reply) => {
      const b = teamBody.parse(request.body);
      const { team, created } = await deps.identity.upsertTeam(b.name, b.limits);
      request.auditContext.target = team.name;
      reply.code(created ? 201 : 200);
      return teamView(team);
    },
  );

  app.get(
    "/v1/admin/teams",
    needs("admin:teams", { auditAction: "teams.list", summary: "List teams" }),
    async () => ({
      object: "list",
      data: (await deps.identity.listTeams()).map(teamView),
    }),
  );
}
