import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type GrpcServer, startGrpcServer } from "./grpc.js";
import type { ServiceHost } from "./lifecycle.js";
import type { Metrics } from "./metrics.js";
import { type OpsServer, type ReadinessCheck, startOpsServer } from "./ops-server.js";

export interface ServeOptions {
  name: string;
  logger: Logger;
  metrics: Metrics;
  bindHost: string;
  httpPort: number;
  graceMs: number;
  grpcPort?: number;
  grpc?: { name: string; definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
  checks?: Record<string, ReadinessCheck>;
}

/**
 * Opens the ops port and the gRPC server once dependencies are up, and registers their
 * shutdown: readiness drops first, then in-flight calls drain, then the ops port closes.
 */
export async function serve(
  host: ServiceHost,
  opts: ServeOptions,
): Promise<{ ops: OpsServer; grpc?: GrpcServer }> {
  const ops = await startOpsServer({
    port: opts.httpPort,
    host: opts.bindHost,
    registry: opts.metrics.registry,
    checks: opts.checks ?? {},
  });
  host.defer("ops-server", () => ops.close());
  let grpc: GrpcServer | undefined;
  if (opts.grpc && opts.grpcPort !== undefined) {
    grpc = await startGrpcServer({
      port: opts.grpcPort,
      host: opts.bindHost,
      services: opts.grpc,
      logger: opts.logger,
    });
    const server = grpc;
    host.defer("grpc-server", () => server.shutdown(opts.graceMs));
  }
  host.defer("readiness", () => ops.setReady(false));
  ops.setReady(true);
  opts.logger.info({ grpcPort: grpc?.port, httpPort: ops.port }, "Started service");
  return grpc ? { ops, grpc } : { ops };
}
