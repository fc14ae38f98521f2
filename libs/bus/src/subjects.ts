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

export const subjects = {
  usageGeneration: defineSubject({ stream: "USAGE", subject: "usage.generation", schema: usageEvent }),
};
