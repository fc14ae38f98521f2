import { setMaxListeners } from "node:events";
import { createLogger, createMetrics, Histogram, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { buildApp } from "./app.js";
import { closeUpstreams, createUpstreams } from "./clients.js";
import { configSchema } from "./config.js";
import { createAuthenticator } from "./http/auth.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "gateway", level: config.LOG_LEVEL });

await runMain(logger, async (host) => {
  const metrics = createMetrics("gateway");
  const upstreams = createUpstreams(config);
  host.defer("upstreams", () => closeUpstreams(upstreams));
  const shutdown = new AbortController();
  // Every in-flight request listens on it; the count is bounded by requests, not a leak.
  setMaxListeners(0, shutdown.signal);
  const app = buildApp({
    shutdownSignal: shutdown.signal,
    upstreams,
    authenticate: createAuthenticator(config.SLOUGHGPT_ADMIN_KEY),
    logger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    generationTimeoutMs: config.GENERATION_TIMEOUT_MS,
    upstreamTimeoutMs: config.UPSTREAM_TIMEOUT_MS,
  });
  const httpSeconds = new Histogram({
    name: "http_server_request_duration_seconds",
    help: "Public API requests, by route and status.",
    labelNames: ["method", "route", "status_code"] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [metrics.registry],
  });
  app.addHook("onResponse", async (request, reply) => {
    httpSeconds.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? "unmatched",
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  const { ops } = await serve(host, {
    name: "gateway",
    logger,
    metrics,
    bindHost: config.BIND_HOST,
    httpPort: config.HTTP_PORT,
    graceMs: config.SHUTDOWN_GRACE_MS,
  });
  await app.listen({ port: config.PORT, host: config.BIND_HOST });
  // Fastify's close stops accepting and waits for in-flight requests, streams included; past the
  // grace period the remaining streams are cancelled upstream and ended with [DONE].
  host.defer("http", async () => {
    ops.setReady(false);
    const timer = setTimeout(() => shutdown.abort(), config.SHUTDOWN_GRACE_MS);
    await app.close();
    clearTimeout(timer);
  });
});
