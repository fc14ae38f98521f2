import { setMaxListeners } from "node:events";
import path from "node:path";
import { connectBus, ensureStreams, publish, subjects } from "@sloughgpt/bus";
import { createLogger, createMetrics, Histogram, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { buildApp } from "./app.js";
import { AuditLog } from "./audit/log.js";
import { closeUpstreams, createUpstreams } from "./clients.js";
import { configSchema } from "./config.js";
import { openGatewayDatabase } from "./database.js";
import { createAuthenticator } from "./http/auth.js";
import { KeyDirectory } from "./identity/directory.js";
import { connectIdentityEvents } from "./identity/events.js";
import { Identity } from "./identity/identity.js";
import { createOidcVerifier } from "./identity/oidc.js";
import { IdentityStore } from "./identity/store.js";
import { budgetAlertId, RequestGate } from "./limits/gate.js";
import { RateLimiter, rateLimitMetrics } from "./limits/index.js";
import { monitoringSpend } from "./limits/monitoring-spend.js";
import { cachedSpend } from "./limits/spend-cache.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "gateway", level: config.LOG_LEVEL });

function oidcVerifier() {
  const { OIDC_JWKS_URL: jwksUrl, OIDC_ISSUER: issuer, OIDC_AUDIENCE: audience } = config;
  // The config schema requires issuer and audience with a JWKS URL.
  if (!jwksUrl || !issuer || !audience) return undefined;
  return createOidcVerifier({
    jwksUrl,
    issuer,
    audience,
    roleClaim: config.OIDC_ROLE_CLAIM,
    teamClaim: config.OIDC_TEAM_CLAIM,
  });
}

await runMain(logger, async (host) => {
  const metrics = createMetrics("gateway");
  const db = await openGatewayDatabase({
    url: config.DATABASE_URL,
    dataDir: path.join(config.DATA_DIR, "pglite", "gateway"),
  });
  host.defer("db", () => db.close());
  const bus = await connectBus({
    url: config.NATS_URL,
    namespace: config.NATS_NAMESPACE,
    name: "gateway",
    logger,
  });
  host.defer("nats", () => bus.close());
  const store = new IdentityStore(db);
  const directory = new KeyDirectory(store, { ttlMs: config.KEY_CACHE_TTL_MS });
  const events = await connectIdentityEvents(
    bus,
    { onKeyRevoked: (id) => directory.evictKey(id), onTeamChanged: (team) => directory.evictTeam(team) },
    logger.child({ component: "identity-events" }),
  );
  host.defer("identity-events", () => events.close());
  const audit = new AuditLog(db, logger.child({ component: "audit" }));
  host.defer("audit", () => audit.close());

  const upstreams = createUpstreams(config);
  host.defer("upstreams", () => closeUpstreams(upstreams));
  await ensureStreams(bus, ["ALERTS"]);
  const limiter = await RateLimiter.open({
    bus,
    logger,
    failOpen: config.RATE_LIMIT_FAIL_OPEN,
    leaseRequests: config.RATE_LIMIT_LEASE_REQUESTS,
    onDecision: rateLimitMetrics(metrics.registry),
  });
  host.defer("rate-limiter", () => limiter.close());
  const gate = new RequestGate({
    limiter,
    spend: cachedSpend(monitoringSpend(upstreams.monitoring, config.SPEND_TIMEOUT_MS), config.SPEND_CACHE_MS),
    // The message id makes the replicas that see the same crossing publish it once.
    alert: (a) => publish(bus, subjects.budgetAlert, a, { msgId: budgetAlertId(a) }),
    logger: logger.child({ component: "gate" }),
  });
  const shutdown = new AbortController();
  // Every in-flight request listens on it; the count is bounded by requests, not a leak.
  setMaxListeners(0, shutdown.signal);
  const app = buildApp({
    shutdownSignal: shutdown.signal,
    upstreams,
    authenticate: createAuthenticator({
      adminKey: config.SLOUGHGPT_ADMIN_KEY,
      keys: directory,
      oidc: oidcVerifier(),
    }),
    identity: new Identity(store, directory, events),
    gate,
    audit,
    logPrompts: config.LOG_PROMPTS,
    trustProxy: config.TRUST_PROXY,
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
    checks: {
      postgres: async () => void (await db.query("SELECT 1")),
      nats: async () => void (await bus.nc.rtt()),
    },
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
