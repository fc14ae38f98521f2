import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";

const HealthClient = makeGenericClientConstructor(healthService, "Health");

export interface HealthResult {
  healthy: boolean;
  detail: string;
  latencyMs: number;
}

/** One grpc.health.v1 Check against `address` (host:port). */
export function checkGrpcHealth(address: string, opts: { service?: string; timeoutMs?: number } = {}) {
  const started = Date.now();
  const client = new HealthClient(address, credentials.createInsecure());
  return new Promise<HealthResult>((resolve) => {
    const deadline = Date.now() + (opts.timeoutMs ?? 2000);
    const check = (client as unknown as Record<string, CheckFn>).Check as CheckFn;
    check.call(client, { service: opts.service ?? "" }, { deadline }, (err, res) => {
      client.close();
      const latencyMs = Date.now() - started;
      if (err) resolve({ healthy: false, detail: err.details || err.message, latencyMs });
      else resolve({ healthy: res?.status === "SERVING", detail: String(res?.status), latencyMs });
    });
  });
}

type CheckFn = (
  req: { service: string },
  opts: { deadline: number },
  cb: (err: ServiceError | null, res?: { status: string }) => void,
) => void;
