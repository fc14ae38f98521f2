import type { training } from "@sloughgpt/proto";
import { type Logger, type Metrics, unary } from "@sloughgpt/runtime";
import { z } from "zod";
import { parseManifest } from "./api/manifest.js";
import type { JobRecord, JobStore } from "./jobs/store.js";

const team = z.string().min(1, "team is required");
const submit = z.object({ manifest: z.string().min(1, "manifest is required").max(1_000_000), team });
const get = z.object({ namespace: z.string(), name: z.string().min(1, "name is required"), team });
const list = z.object({ namespace: z.string(), team });

const toJob = (r: JobRecord): training.Job => ({
  namespace: r.namespace,
  name: r.name,
  team: r.team,
  phase: r.phase,
  manifestJson: JSON.stringify(r.manifest),
  createdUnix: Math.floor(r.createdAt.getTime() / 1000),
  uid: r.uid,
});

export function trainingHandlers(deps: {
  store: JobStore;
  defaultNamespace: string;
  logger: Logger;
  metrics: Metrics;
}) {
  const env = { logger: deps.logger, metrics: deps.metrics, service: "TrainingService" };
  const impl: training.TrainingServiceServer = {
    submitJob: unary<training.SubmitJobRequest, training.SubmitJobResponse>(
      env,
      "SubmitJob",
      async (raw, ctx) => {
        const req = submit.parse(raw);
        const job = parseManifest(req.manifest);
        const record = await deps.store.create(
          job,
          job.metadata.namespace ?? deps.defaultNamespace,
          req.team,
        );
        ctx.logger.info(
          { job: `${record.namespace}/${record.name}`, team: record.team },
          "Accepted TrainingJob",
        );
        return { job: toJob(record) };
      },
    ),
    getJob: unary<training.GetJobRequest, training.GetJobResponse>(env, "GetJob", async (raw) => {
      const req = get.parse(raw);
      return { job: toJob(await deps.store.get(req.namespace || deps.defaultNamespace, req.name, req.team)) };
    }),
    listJobs: unary<training.ListJobsRequest, training.ListJobsResponse>(env, "ListJobs", async (raw) => {
      const req = list.parse(raw);
      return { jobs: (await deps.store.list(req.team, req.namespace || undefined)).map(toJob) };
    }),
  };
  return impl;
}
