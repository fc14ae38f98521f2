import { Gauge, Histogram, type Registry } from "@sloughgpt/runtime";
import { PHASES } from "../api/types.js";
import { gpusPerNode, type StoredJob } from "./podspec.js";

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;

/** Jobs by phase and admitted GPUs are read from the caches at scrape time, so they never drift. */
export function createControllerMetrics(
  registry: Registry,
  sources: { jobs: () => readonly StoredJob[]; queueLength: () => number },
) {
  const reconcileSeconds = new Histogram({
    name: "trainingjob_reconcile_seconds",
    help: "Time to reconcile one TrainingJob, by result.",
    labelNames: ["result"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  new Gauge({
    name: "trainingjob_jobs",
    help: "TrainingJobs by phase.",
    labelNames: ["phase"] as const,
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(PHASES.map((p) => [p, 0]));
      for (const j of sources.jobs()) {
        const phase = j.status?.phase ?? "Queued";
        counts.set(phase, (counts.get(phase) ?? 0) + 1);
      }
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  new Gauge({
    name: "trainingjob_queue_length",
    help: "TrainingJob keys waiting in the controller's work queue.",
    registers: [registry],
    collect() {
      this.set(sources.queueLength());
    },
  });
  new Gauge({
    name: "trainingjob_admitted_gpus",
    help: "GPUs held by admitted, running or restarting TrainingJobs.",
    registers: [registry],
    collect() {
      const active = sources
        .jobs()
        .filter((j) => ["Admitted", "Running", "Restarting"].includes(j.status?.phase ?? ""));
      this.set(active.reduce((s, j) => s + (j.spec.numNodes ?? 1) * gpusPerNode(j), 0));
    },
  });
  return { reconcileSeconds };
}
