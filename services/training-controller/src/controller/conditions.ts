import type { Condition } from "../api/types.js";
import type { ConditionType, Reason } from "./reasons.js";

export interface ConditionUpdate {
  type: ConditionType;
  status: "True" | "False";
  reason: Reason;
  message: string;
}

/**
 * Sets one condition, keeping lastTransitionTime when the status did not change, so the time says
 * when the condition last flipped rather than when it was last written.
 */
export function setCondition(
  conditions: Condition[] | undefined,
  update: ConditionUpdate,
  now: Date,
  generation: number,
): Condition[] {
  const list = conditions ?? [];
  const prev = list.find((c) => c.type === update.type);
  const lastTransitionTime =
    prev && prev.status === update.status && prev.lastTransitionTime
      ? prev.lastTransitionTime
      : now.toISOString();
  const next: Condition = { ...update, lastTransitionTime, observedGeneration: generation };
  return prev ? list.map((c) => (c.type === update.type ? next : c)) : [...list, next];
}

/** Marks every other listed condition False, so exactly one phase condition is True at a time. */
export function setPhaseCondition(
  conditions: Condition[] | undefined,
  update: ConditionUpdate,
  now: Date,
  generation: number,
): Condition[] {
  let list = setCondition(conditions, update, now, generation);
  for (const c of list) {
    if (c.type !== update.type && c.status === "True") {
      list = setCondition(
        list,
        { type: c.type as ConditionType, status: "False", reason: update.reason, message: update.message },
        now,
        generation,
      );
    }
  }
  return list;
}
