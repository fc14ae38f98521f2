import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** One registry per process, with Node's default metrics and the gRPC server metrics. */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const grpcHandled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by method and status code.",
    labelNames: ["grpc_service", "grpc_method", "grpc_code"] as const,
    registers: [registry],
  });
  const grpcSeconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Time from an RPC's start to its completion on the server.",
    labelNames: ["grpc_service", "grpc_method"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return { registry, grpcHandled, grpcSeconds };
}

export type Metrics = ReturnType<typeof createMetrics>;
