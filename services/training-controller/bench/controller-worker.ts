// The controller under benchmark, in its own thread (as it runs in its own pod): the fake API server
// and the load generator stay on the main thread and do not count in its time or memory.
import { parentPort, workerData } from "node:worker_threads";
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "@sloughgpt/runtime";
import { TrainingController } from "../src/controller/controller.js";

export interface WorkerInput {
  kubeConfig: Parameters<KubeConfig["loadFromOptions"]>[0];
  namespace: string;
}
export interface WorkerResult {
  durations: number[];
  /** The controller thread's heap in use when every job was admitted (its caches full). */
  heapMb: number;
}

const input = workerData as WorkerInput;
const kc = new KubeConfig();
kc.loadFromOptions(input.kubeConfig);
const controller = new TrainingController({
  kubeConfig: kc,
  logger: createLogger({ service: "bench", level: "silent" }),
  namespace: input.namespace,
  resyncSeconds: 3600,
});
const durations: number[] = [];
const reconcile = controller.reconciler.reconcile.bind(controller.reconciler);
controller.reconciler.reconcile = async (key) => {
  const t = performance.now();
  try {
    return await reconcile(key);
  } finally {
    durations.push(performance.now() - t);
  }
};
parentPort!.on("message", async (msg: "start" | "stop") => {
  if (msg === "start") {
    await controller.start();
    parentPort!.postMessage("started");
    return;
  }
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
  await controller.stop();
  parentPort!.postMessage({ durations, heapMb } satisfies WorkerResult);
});
