import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export type ReadinessCheck = () => Promise<void> | void;

export interface OpsServer {
  port: number;
  /** Readiness turns false at shutdown so load balancers stop routing first. */
  setReady(ready: boolean): void;
  close(): Promise<void>;
}

/** /metrics (Prometheus text), /healthz (process alive), /readyz (dependencies and not draining). */
export async function startOpsServer(opts: {
  port: number;
  host?: string;
  registry: Registry;
  checks?: Record<string, ReadinessCheck>;
}): Promise<OpsServer> {
  let ready = false;
  const server = http.createServer((req, res) => {
    void handle(req.url ?? "/", res);
  });
  const routes: Record<string, (res: http.ServerResponse) => Promise<void>> = {
    "/metrics": async (res) => {
      res.setHeader("content-type", opts.registry.contentType);
      res.end(await opts.registry.metrics());
    },
    "/healthz": async (res) => {
      res.setHeader("content-type", "application/json");
      res.end('{"status":"ok"}');
    },
    "/readyz": async (res) => {
      const failures = ready ? await runChecks(opts.checks ?? {}) : { process: "not ready" };
      res.statusCode = Object.keys(failures).length === 0 ? 200 : 503;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: res.statusCode === 200 ? "ready" : "not ready", failures }));
    },
  };
  async function handle(url: string, res: http.ServerResponse): Promise<void> {
    const route = routes[url.split("?")[0] ?? ""];
    if (route) return route(res);
    res.statusCode = 404;
    res.end();
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    setReady(r) {
      ready = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function runChecks(checks: Record<string, ReadinessCheck>): Promise<Record<string, string>> {
  const failures: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await check();
      } catch (err) {
        failures[name] = err instanceof Error ? err.message : String(err);
      }
    }),
  );
  return failures;
}
