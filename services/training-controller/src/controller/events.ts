import type { TrainingJobStatus } from "../api/types.js";
import type { StoredJob } from "./podspec.js";

/**
 * What a job entering `status.phase` announces, the same from the cluster and the local backend:
 * `training.job.<ns>.<name>.<phase>` and, when it succeeded with `output.modelId`, `model.published`
 * (the train → serve hand-off: serving registers the model found at `output.path`). Pure.
 */
export function phaseEvents(job: StoredJob, status: TrainingJobStatus, now: Date): [string, unknown][] {
  const phase = status.phase;
  if (!phase) return [];
  const { namespace, name, uid } = job.metadata;
  const condition = status.conditions?.find((c) => c.type === phase);
  const at = now.toISOString();
  const events: [string, unknown][] = [
    [
      `training.job.${namespace}.${name}.${phase.toLowerCase()}`,
      {
        namespace,
        name,
        uid,
        phase,
        reason: condition?.reason,
        message: condition?.message,
        restarts: status.restarts ?? 0,
        at,
      },
    ],
  ];
  const output = job.spec.output;
  if (phase === "Succeeded" && output?.modelId) {
    events.push([
      "model.published",
      { modelId: output.modelId, path: output.path ?? "", job: { namespace, name, uid }, at },
    ]);
  }
  return events;
}
