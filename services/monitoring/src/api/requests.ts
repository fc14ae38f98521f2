import { monitoring } from "@sloughgpt/proto";
import { z } from "zod";
import { decodePageToken, type ExportQuery } from "../usage/export.js";
import { DAY_MS, isWholeDays, parseBound, parseInstant, type SpendPeriod } from "../usage/periods.js";
import type { GroupBy, UsageQuery } from "../usage/reports.js";

/**
 * The gRPC boundary: proto requests are read through zod under their proto field names, so an
 * INVALID_ARGUMENT names the field the caller sent (`group_by`, `from`, …).
 */

export const MAX_RANGE_DAYS = 400;

const GROUPS: Partial<Record<monitoring.UsageGroupBy, GroupBy>> = {
  [monitoring.UsageGroupBy.USAGE_GROUP_BY_TEAM]: "team",
  [monitoring.UsageGroupBy.USAGE_GROUP_BY_KEY]: "key",
  [monitoring.UsageGroupBy.USAGE_GROUP_BY_MODEL]: "model",
  [monitoring.UsageGroupBy.USAGE_GROUP_BY_DAY]: "day",
};

const groupBy = z
  .array(
    z.number().transform((v, ctx) => {
      const g = GROUPS[v as monitoring.UsageGroupBy];
      if (!g) {
        ctx.addIssue({ code: "custom", message: "expected team, key, model or day" });
        return z.NEVER;
      }
      return g;
    }),
  )
  .refine((gs) => new Set(gs).size === gs.length, "each grouping at most once");

const bound = (edge: "from" | "to") =>
  z
    .string()
    .min(1, "required: a date (YYYY-MM-DD) or an RFC 3339 instant")
    .transform((v, ctx) => {
      const ms = parseBound(v, edge);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: "expected a date (YYYY-MM-DD) or an RFC 3339 instant" });
        return z.NEVER;
      }
      return ms;
    });

/** Empty strings are proto3's "unset". */
const optionalText = z
  .string()
  .max(512)
  .transform((v) => v || undefined);

/** `from` < `to`, at most MAX_RANGE_DAYS apart; issues name `to`. */
function checkRange(r: { from: number; to: number }, ctx: z.RefinementCtx): void {
  if (r.to <= r.from) ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
  else if (r.to - r.from > MAX_RANGE_DAYS * DAY_MS) {
    ctx.addIssue({ code: "custom", path: ["to"], message: `at most ${MAX_RANGE_DAYS} days after from` });
  }
}

const rangeAndFilters = {
  from: bound("from"),
  to: bound("to"),
  team: optionalText,
  key_id: optionalText,
  model: optionalText,
};

const limit = (def: number, max: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(max)
    .transform((v) => v || def);

const queryUsageSchema = z
  .object({ group_by: groupBy, ...rangeAndFilters, limit: limit(1000, 10_000) })
  .superRefine(checkRange)
  .transform(
    (r): UsageQuery => ({
      groupBy: r.group_by,
      fromMs: r.from,
      toMs: r.to,
      team: r.team,
      keyId: r.key_id,
      model: r.model,
      limit: r.limit,
    }),
  );

export function parseQueryUsage(req: monitoring.QueryUsageRequest): UsageQuery {
  return queryUsageSchema.parse({
    group_by: req.groupBy,
    from: req.from,
    to: req.to,
    team: req.team,
    key_id: req.keyId,
    model: req.model,
    limit: req.limit,
  });
}

const KINDS: Partial<Record<monitoring.UsageExportKind, ExportQuery["kind"]>> = {
  [monitoring.UsageExportKind.USAGE_EXPORT_KIND_UNSPECIFIED]: "records",
  [monitoring.UsageExportKind.USAGE_EXPORT_KIND_RECORDS]: "records",
  [monitoring.UsageExportKind.USAGE_EXPORT_KIND_DAILY]: "daily",
};

const exportSchema = z
  .object({
    kind: z.number().transform((v, ctx) => {
      const k = KINDS[v as monitoring.UsageExportKind];
      if (!k) {
        ctx.addIssue({ code: "custom", message: "expected records or daily" });
        return z.NEVER;
      }
      return k;
    }),
    ...rangeAndFilters,
    limit: limit(100_000, 1_000_000),
    page_token: z.string().max(4096),
  })
  .superRefine((r, ctx) => {
    checkRange(r, ctx);
    if (r.kind === "daily" && !isWholeDays(r.from, r.to)) {
      ctx.addIssue({ code: "custom", path: ["from"], message: "a daily export takes whole UTC days" });
    }
  })
  .transform((r, ctx): ExportQuery => {
    let after: ExportQuery["after"];
    try {
      after = r.page_token ? decodePageToken(r.page_token, r.kind) : undefined;
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["page_token"], message: (err as Error).message });
      return z.NEVER;
    }
    const { from, to, team, key_id, model, limit, kind } = r;
    return { kind, fromMs: from, toMs: to, team, keyId: key_id, model, limit, after };
  });

export function parseExportUsage(req: monitoring.ExportUsageRequest): ExportQuery {
  return exportSchema.parse({
    kind: req.kind,
    from: req.from,
    to: req.to,
    team: req.team,
    key_id: req.keyId,
    model: req.model,
    limit: req.limit,
    page_token: req.pageToken,
  });
}

const PERIODS: Partial<Record<monitoring.SpendPeriod, SpendPeriod>> = {
  [monitoring.SpendPeriod.SPEND_PERIOD_DAILY]: "daily",
  [monitoring.SpendPeriod.SPEND_PERIOD_MONTHLY]: "monthly",
};

export interface SpendQuery {
  keyId: string | undefined;
  team: string | undefined;
  period: SpendPeriod;
  atMs: number;
}

const spendSchema = (now: number) =>
  z
    .object({
      key_id: optionalText,
      team: optionalText,
      period: z.number().transform((v, ctx) => {
        const p = PERIODS[v as monitoring.SpendPeriod];
        if (!p) {
          ctx.addIssue({ code: "custom", message: "expected daily or monthly" });
          return z.NEVER;
        }
        return p;
      }),
      at: z.string().transform((v, ctx) => {
        if (!v) return now;
        const ms = parseInstant(v);
        if (ms === undefined) {
          ctx.addIssue({ code: "custom", message: "expected an RFC 3339 instant" });
          return z.NEVER;
        }
        return ms;
      }),
    })
    .refine((r) => r.key_id !== undefined || r.team !== undefined, {
      path: ["key_id"],
      message: "name a key_id, a team or both",
    })
    .transform((r): SpendQuery => ({ keyId: r.key_id, team: r.team, period: r.period, atMs: r.at }));

export function parseGetSpend(req: monitoring.GetSpendRequest, now = Date.now()): SpendQuery {
  return spendSchema(now).parse({ key_id: req.keyId, team: req.team, period: req.period, at: req.at });
}
