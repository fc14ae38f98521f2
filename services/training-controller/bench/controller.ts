// pnpm --filter @sloughgpt/training-controller bench:controller [--jobs 1000]
// 1) --jobs TrainingJobs created at once against the fake API server with GPUs for all: seconds until
//    every job is Admitted with all its pods created, reconciles and their p99, the controller's heap.
// 2) The same number of jobs with random priorities, waiting when the controller starts, capacity for
//    10 %: the admitted ones are the first by priority then age, and no job has some but not all of its
//    pods. Last line: jobs_admitted_s=<x> (run 1).
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { FakeKubeApiServer, FakeKubelet } from "@sloughgpt/testing";
import { parse } from "yaml";
import { LABEL_JOB } from "../src/controller/names.js";
import type { WorkerInput, WorkerResult } from "./controller-worker.js";

const { values } = parseArgs({ options: { jobs: { type: "string", default: "1000" } } });
const JOBS = Number(values.jobs);
const NODES_PER_JOB = 2;
const GPUS_PER_NODE_OF_JOB = 1;
const NS = "bench";
const crd = parse(
  readFileSync(path.resolve(import.meta.dirname, "../../../k8s/crds/trainingjobs.sloughgpt.io.yaml"), "utf8"),
);

interface Run {
  admittedSeconds: number;
  reconciles: number;
  p99Ms: number;
  heapMb: number;
  order?: { expected: string[]; admitted: string[]; partial: string[] };
}

async function run(gpus: number, priorities: boolean): Promise<Run> {
  const server = await new FakeKubeApiServer({ crds: [crd], historyLimit: 200_000 }).start();
  const nodes = new FakeKubelet(server.store, { nodes: [] });
  // Whole nodes of 8 GPUs: the cluster has at least `gpus`, and capacity is counted from what it has.
  const nodeCount = Math.ceil(gpus / 8);
  for (let i = 0; i < nodeCount; i++) nodes.addNode({ name: `gpu-${i}`, gpus: 8 });
  const kc = new KubeConfig();
  kc.loadFromOptions(server.kubeConfigOptions(NS));
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const worker = new Worker(new URL("./controller-worker.mjs", import.meta.url), {
    workerData: { kubeConfig: server.kubeConfigOptions(NS), namespace: NS } satisfies WorkerInput,
  });
  // A worker that fails or exits before it answers fails the run instead of hanging it.
  const failed = new Promise<never>((_, reject) => {
    worker.on("error", reject);
    worker.on("exit", (code) => reject(new Error(`the controller thread exited (${code})`)));
  });
  failed.catch(() => {});
  const ask = <T>(msg: "start" | "stop") => {
    const answer = new Promise<T>((resolve) => worker.once("message", resolve));
    worker.postMessage(msg);
    return Promise.race([answer, failed]);
  };
  const controller = { start: () => ask<"started">("start"), stop: () => ask<WorkerResult>("stop") };
  // With priorities the jobs wait together (created before the controller starts), so order is testable;
  // otherwise they arrive while it runs, as a burst of submissions would.
  if (!priorities) await controller.start();
  const names = Array.from({ length: JOBS }, (_, i) => `job-${String(i).padStart(5, "0")}`);
  const priority = new Map(names.map((n) => [n, priorities ? Math.floor(Math.random() * 5) : 0]));
  const started = performance.now();
  await Promise.all(
    names.map((name) =>
      custom.createNamespacedCustomObject({
        group: "sloughgpt.io",
        version: "v1alpha1",
        plural: "trainingjobs",
        namespace: NS,
        body: {
          apiVersion: "sloughgpt.io/v1alpha1",
          kind: "TrainingJob",
          metadata: { name },
          spec: {
            image: "trainer:1",
            numNodes: NODES_PER_JOB,
            priority: priority.get(name),
            resourcesPerNode: { limits: { "nvidia.com/gpu": GPUS_PER_NODE_OF_JOB } },
          },
        },
      }),
    ),
  );
  if (priorities) await controller.start();
  const capacityJobs = Math.min(JOBS, Math.floor((nodeCount * 8) / (NODES_PER_JOB * GPUS_PER_NODE_OF_JOB)));
  const jobsType = server.store.type("sloughgpt.io", "trainingjobs");
  const podsType = server.store.type("", "pods");
  // Counted from the store's event stream: listing (and cloning) every object on each check would
  // cost more than the controller being measured.
  const phases = new Map<string, string>();
  let pods = server.store.list(podsType, NS).length;
  for (const j of server.store.list(jobsType, NS)) {
    const phase = (j.status as { phase?: string } | undefined)?.phase;
    if (phase) phases.set(j.metadata.name!, phase);
  }
  const unsubscribe = server.store.subscribe((e) => {
    if (e.resource === podsType) pods += e.type === "ADDED" ? 1 : e.type === "DELETED" ? -1 : 0;
    const phase = (e.object.status as { phase?: string } | undefined)?.phase;
    if (e.resource === jobsType && phase) phases.set(e.object.metadata.name!, phase);
  });
  const settled = () => {
    const admitted = [...phases.values()].filter((p) => p === "Admitted").length;
    return phases.size === JOBS && admitted === capacityJobs && pods === capacityJobs * NODES_PER_JOB;
  };
  while (!settled()) await new Promise((resolve) => setTimeout(resolve, 20));
  const admittedSeconds = (performance.now() - started) / 1000;
  unsubscribe();

  const podList = (await core.listNamespacedPod({ namespace: NS })).items;
  const count = new Map<string, number>();
  for (const p of podList)
    count.set(p.metadata!.labels![LABEL_JOB]!, (count.get(p.metadata!.labels![LABEL_JOB]!) ?? 0) + 1);
  const created = new Map(
    server.store.list(jobsType, NS).map((j) => [j.metadata.name!, j.metadata.creationTimestamp!]),
  );
  const expected = [...names]
    .sort(
      (a, b) =>
        priority.get(b)! - priority.get(a)! ||
        created.get(a)!.localeCompare(created.get(b)!) ||
        (a < b ? -1 : 1),
    )
    .slice(0, capacityJobs)
    .sort();
  const admitted = [...count.keys()].sort();
  const partial = [...count.entries()].filter(([, n]) => n !== NODES_PER_JOB).map(([k]) => k);
  const { durations, heapMb } = await controller.stop();
  await worker.terminate();
  await server.close();
  const sorted = [...durations].sort((a, b) => a - b);
  const p99Ms = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
  return {
    admittedSeconds,
    reconciles: durations.length,
    p99Ms,
    heapMb,
    order: { expected, admitted, partial },
  };
}

console.log(`machine: ${os.cpus()[0]?.model} x${os.cpus().length}, node ${process.version}`);
const full = await run(JOBS * NODES_PER_JOB * GPUS_PER_NODE_OF_JOB, false);
console.log(
  `all fit: ${JOBS} jobs admitted with ${JOBS * NODES_PER_JOB} pods in ${full.admittedSeconds.toFixed(2)} s; ${full.reconciles} reconciles, p99 ${full.p99Ms.toFixed(1)} ms; controller heap ${full.heapMb.toFixed(0)} MiB`,
);
const tenth = await run(Math.floor((JOBS * NODES_PER_JOB * GPUS_PER_NODE_OF_JOB) / 10), true);
const same = JSON.stringify(tenth.order?.expected) === JSON.stringify(tenth.order?.admitted);
console.log(
  `10 % capacity: ${tenth.order?.admitted.length} admitted in ${tenth.admittedSeconds.toFixed(2)} s; admission order by priority then age: ${same ? "yes" : "NO"}; jobs with a partial gang: ${tenth.order?.partial.length}`,
);
console.log(`jobs_admitted_s=${full.admittedSeconds.toFixed(2)}`);
process.exit(same && tenth.order?.partial.length === 0 ? 0 : 1);
