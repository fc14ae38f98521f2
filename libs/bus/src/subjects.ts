import { z } from "zod";

/** A typed subject: its stream, its payload schema. Names are relative to the bus namespace. */
export interface SubjectDef<S extends z.ZodType> {
  /** Stream (without namespace), e.g. `USAGE`. */
  stream: string;
  /** Subject under the namespace, e.g. `usage.generation`. */
  subject: string;
  schema: S;
}

export function defineSubject<S extends z.ZodType>(def: SubjectDef<S>): SubjectDef<S> {
  return def;
}

/** Streams the platform uses; `subjects` are relative to the namespace. */
export const STREAMS = {
  USAGE: { subjects: ["usage.>"], maxAgeDays: 30 },
  ALERTS: { subjects: ["alerts.>"], maxAgeDays: 30 },
  MODELS: { subjects: ["model.>"], maxAgeDays: 365 },
} as const;

export const usageEvent = z.object({
  id: z.string().min(1),
  model: z.string(),
  keyId: z.string(),
  /** The caller's team ("" when the caller sent none). */
  team: z.string().default(""),
  requestId: z.string(),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
  /** Prompt tokens reused from an earlier evaluation (prefix reuse). */
  cachedTokens: z.number().int().nonnegative().default(0),
  /** Answered from the response cache without running the model. */
  cacheHit: z.boolean().default(false),
  latencyMs: z.number().nonnegative(),
  status: z.enum(["ok", "error", "cancelled"]),
  finishedAt: z.string(),
});
export type UsageEvent = z.infer<typeof usageEvent>;

/** A key's or team's spend crossed a share of its budget (0.8: the soft limit; 1: exhausted). */
export const budgetAlert = z.object({
  scope: z.enum(["key", "team"]),
  /** The key id or the team name. */
  subject: z.string().min(1),
  team: z.string(),
  threshold: z.number().positive(),
  budgetUsd: z.number().nonnegative(),
  /** Decimal USD, as the ledger reported it when the threshold was seen crossed. */
  spentUsd: z.string(),
  period: z.enum(["daily", "monthly"]),
  periodStart: z.string(),
  at: z.string(),
});
export type BudgetAlert = z.infer<typeof budgetAlert>;

/** A training job finished and left a model for serving to register (the train → serve hand-off). */
export const modelPublished = z.object({
  modelId: z.string().min(1).max(256),
  /** An absolute path to a GGUF file that serving can read. */
  path: z.string().min(1),
  job: z.object({ namespace: z.string(), name: z.string(), uid: z.string().optional() }).optional(),
  at: z.string(),
});
export type ModelPublished = z.infer<typeof modelPublished>;

export const subjects = {
  usageGeneration: defineSubject({ stream: "USAGE", subject: "usage.generation", schema: usageEvent }),
  budgetAlert: defineSubject({ stream: "ALERTS", subject: "alerts.budget", schema: budgetAlert }),
  modelPublished: defineSubject({ stream: "MODELS", subject: "model.published", schema: modelPublished }),
};
