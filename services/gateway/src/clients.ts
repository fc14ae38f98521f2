import { credentials } from "@grpc/grpc-js";
import { monitoring, rag, reasoning, serving, training } from "@sloughgpt/proto";
import { clientOptions } from "@sloughgpt/runtime";
import type { Config } from "./config.js";

export interface Upstreams {
  serving: serving.ServingServiceClient;
  rag: rag.RagServiceClient;
  reasoning: reasoning.ReasoningServiceClient;
  training: training.TrainingServiceClient;
  monitoring: monitoring.MonitoringServiceClient;
}

export function createUpstreams(c: Config): Upstreams {
  const insecure = credentials.createInsecure();
  return {
    serving: new serving.ServingServiceClient(c.SERVING_ADDR, insecure, clientOptions),
    rag: new rag.RagServiceClient(c.RAG_ADDR, insecure, clientOptions),
    reasoning: new reasoning.ReasoningServiceClient(c.REASONING_ADDR, insecure, clientOptions),
    training: new training.TrainingServiceClient(c.TRAINING_ADDR, insecure, clientOptions),
    monitoring: new monitoring.MonitoringServiceClient(c.MONITORING_ADDR, insecure, clientOptions),
  };
}

export function closeUpstreams(u: Upstreams): void {
  for (const client of Object.values(u)) client.close();
}
