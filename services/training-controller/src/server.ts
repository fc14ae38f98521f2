import { ApiException } from "@kubernetes/client-node";
import type { training } from "@sloughgpt/proto";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  type Logger,
  type Metrics,
  unary,
} from "@sloughgpt/runtime";
import { z } from "zod";
import { parseManifest } from "./api/manifest.js";
import type { TrainingJobStatus } from "./api/types.js";
import type { JobCluster } from "./jobs/cluster.js";
import type { JobRecord, JobStore } from "./jobs/store.js";

const team = z.string().min(1, "team is required");
const MAX_TAIL_LINES = 10_000;
const submit = z.object({ manifest: z.string().min(1, "manifest is required").max(1_000_000), team });
const one = z.object({ namespace: z.string(), name: z.string().min(1, "name is required"), team });
const list = z.object({ namespace: z.string(), team });
const logs = one.extend({
  node: z.number().int().min(0, "node must be 0 or more").optional(),
  tailLines: z
    .number()
    .int()
    .min(0)
    .max(MAX_TAIL_LINES, `tail_lines is at most ${MAX_TAIL_LINES}`)
    .transform((n) => n || 100),
  attempt: z.number().int().min(0, "attempt must be 0 or more").optional(),
});

const toJob = (r: JobRecord, status?: TrainingJobStatus): training.Job => ({
  namespace: r.namespace,
  name: r.name,
  team: r.team,
  phase: status?.phase ?? r.phase,
  manifestJson: JSON.stringify(r.manifest),
  createdUnix: Math.floor(r.createdAt.getTime() / 1000),
  uid: r.uid,
  statusJson: JSON.stringify(status ?? {}),
});

export interface TrainingDeps {
  store: JobStore;
  /** The cluster jobs run in (BACKEND=kubernetes); without it jobs are only recorded. */
  cluster?: JobCluster;
  defaultNamespace: string;
  logger: Logger;
  metrics: Metrics;
}

async function createInCluster(deps: TrainingDeps, record: JobRecord): Promise<void> {
  if (!deps.cluster) return;
  try {
    await deps.cluster.create(record.manifest, record.namespace, record.team);
  } catch (err) {
    await deps.store.delete(record.namespace, record.name, record.team);
    if (err instanceof ApiException && err.code === 409) {
      throw new AlreadyExistsError(
        `TrainingJob ${record.namespace}/${record.name} already exists in the cluster`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

async function setSuspend(deps: TrainingDeps, raw: unknown, suspend: boolean): Promise<training.Job> {
  const req = one.parse(raw);
  const record = await deps.store.get(req.namespace || deps.defaultNamespace, req.name, req.team);
  const manifest = { ...record.manifest, spec: { ...record.manifest.spec, suspend } };
  await deps.cluster?.setSuspend(record.namespace, record.name, suspend);
  const phase = deps.cluster ? record.phase : suspend ? "Suspended" : "Queued";
  const updated = await deps.store.update(record, phase, manifest);
  return toJob(updated, await deps.cluster?.status(record.namespace, record.name));
}

export function trainingHandlers(deps: TrainingDeps) {
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
        await createInCluster(deps, record);
        ctx.logger.info(
          { job: `${record.namespace}/${record.name}`, team: record.team },
          "Accepted TrainingJob",
        );
        return { job: toJob(record) };
      },
    ),
    getJob: unary<training.GetJobRequest, training.GetJobResponse>(env, "GetJob", async (raw) => {
      const req = one.parse(raw);
      const record = await deps.store.get(req.namespace || deps.defaultNamespace, req.name, req.team);
      return { job: toJob(record, await deps.cluster?.status(record.namespace, record.name)) };
    }),
    listJobs: unary<training.ListJobsRequest, training.ListJobsResponse>(env, "ListJobs", async (raw) => {
      const req = list.parse(raw);
      const records = await deps.store.list(req.team, req.namespace || undefined);
      const statuses = deps.cluster ? await deps.cluster.statuses(req.namespace || undefined) : new Map();
      return { jobs: records.map((r) => toJob(r, statuses.get(`${r.namespace}/${r.name}`))) };
    }),
    deleteJob: unary<training.DeleteJobRequest, training.DeleteJobResponse>(
      env,
      "DeleteJob",
      async (raw, ctx) => {
        const req = one.parse(raw);
        const record = await deps.store.get(req.namespace || deps.defaultNamespace, req.name, req.team);
        await deps.cluster?.delete(record.namespace, record.name);
        await deps.store.delete(record.namespace, record.name, record.team);
        ctx.logger.info({ job: `${record.namespace}/${record.name}` }, "Deleted TrainingJob");
        return {};
      },
    ),
    suspendJob: unary<training.SuspendJobRequest, training.SuspendJobResponse>(
      env,
      "SuspendJob",
      async (raw) => ({
        job: await setSuspend(deps, raw, true),
      }),
    ),
    getJobLogs: unary<training.GetJobLogsRequest, training.GetJobLogsResponse>(
      env,
      "GetJobLogs",
      async (raw) => {
        const req = logs.parse(raw);
        const record = await deps.store.get(req.namespace || deps.defaultNamespace, req.name, req.team);
        if (!deps.cluster) {
          throw new FailedPreconditionError(
            "jobs are only recorded here (BACKEND=none): nothing runs them, so there are no logs",
          );
        }
        const nodes = await deps.cluster.logs(record.namespace, record.name, {
          node: req.node,
          tailLines: req.tailLines,
          attempt: req.attempt,
        });
        return { nodes: nodes.map((n) => ({ ...n, message: n.message ?? "" })) };
      },
    ),
    resumeJob: unary<training.ResumeJobRequest, training.ResumeJobResponse>(
      env,
      "ResumeJob",
      async (raw) => ({
        job: await setSuspend(deps, raw, false),
      }),
    ),
  };
  return impl;
}
