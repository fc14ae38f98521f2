import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connectBus, consume, ensureStreams, subjects } from "@sloughgpt/bus";
import { migrate, openDatabase } from "@sloughgpt/db";
import { monitoring } from "@sloughgpt/proto";
import { checkGrpcHealth, createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { type Config, configSchema } from "./config.js";
import type { ComponentCheck } from "./fleet/fleet.js";
import { budgetAlertHandler } from "./ingest/budget-alerts.js";
import { consumeBatches } from "./ingest/consumer.js";
import { usageIngest } from "./ingest/usage-ingest.js";
import { monitoringHandlers } from "./server.js";
import { rememberBudgetAlert } from "./usage/alerts.js";
import { loadPriceTable } from "./usage/pricing.js";
import { migrations } from "./usage/store.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "monitoring", level: config.LOG_LEVEL });

function grpcChecks(c: Config): ComponentCheck[] {
  const targets = {
    serving: c.SERVING_ADDR,
    rag: c.RAG_ADDR,
    reasoning: c.REASONING_ADDR,
    "training-controller": c.TRAINING_ADDR,
  };
  return Object.entries(targets).map(([name, target]) => ({
    name,
    kind: "grpc",
    target,
    run: () => checkGrpcHealth(target, { timeoutMs: c.HEALTH_TIMEOUT_MS }),
  }));
}

/** Runs a consumer until shutdown, restarting it with backoff after a failure (e.g. JetStream not ready yet). */
async function keepConsuming(
  opts: { what: string; log: typeof logger; signal: AbortSignal; onState?: (up: boolean) => void },
  run: () => Promise<void>,
): Promise<void> {
  const { what, log, signal } = opts;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      opts.onState?.(true);
      await run();
    } catch (err) {
      log.error({ err, attempt }, `Stopped the ${what} consumer with an error; restarting`);
    }
    opts.onState?.(false);
    const backoff = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
    await sleep(backoff, undefined, { signal }).catch(() => undefined);
  }
}

await runMain(logger, async (host) => {
  const metrics = createMetrics("monitoring");
  const prices = await loadPriceTable(config.MODEL_PRICES);
  const db = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: path.join(config.DATA_DIR, "pglite", "monitoring"),
  });
  host.defer("db", () => db.close());
  await migrate(db, "monitoring", migrations);
  const bus = await connectBus({
    url: config.NATS_URL,
    namespace: config.NATS_NAMESPACE,
    name: "monitoring",
    logger,
  });
  host.defer("nats", () => bus.close());
  await ensureStreams(bus, ["USAGE", "ALERTS"]);

  const ingest = usageIngest({
    db,
    prices,
    metrics,
    logger: logger.child({ component: "usage-ledger" }),
  });
  const stopConsumers = new AbortController();
  const consumerLog = logger.child({ component: "usage-consumer" });
  let consumerUp = false;
  const consuming = keepConsuming(
    {
      what: "usage",
      log: consumerLog,
      signal: stopConsumers.signal,
      onState: (up) => {
        consumerUp = up;
      },
    },
    () =>
      consumeBatches(bus, {
        stream: subjects.usageGeneration.stream,
        subject: subjects.usageGeneration.subject,
        durable: "monitoring-usage",
        batchSize: config.USAGE_BATCH_SIZE,
        lingerMs: config.USAGE_BATCH_LINGER_MS,
        ackWaitMs: config.USAGE_ACK_WAIT_MS,
        ...ingest,
        logger: consumerLog,
        signal: stopConsumers.signal,
      }),
  );
  const alertLog = logger.child({ component: "budget-alerts" });
  const onAlert = budgetAlertHandler({ metrics, logger: alertLog, isNew: (a) => rememberBudgetAlert(db, a) });
  const alerting = keepConsuming({ what: "budget alert", log: alertLog, signal: stopConsumers.signal }, () =>
    consume(bus, {
      def: subjects.budgetAlert,
      durable: "monitoring-budget-alerts",
      logger: alertLog,
      signal: stopConsumers.signal,
      handler: onAlert,
    }),
  );
  host.defer("consumers", async () => {
    stopConsumers.abort();
    await Promise.all([consuming, alerting]);
  });

  const checks: ComponentCheck[] = [
    ...grpcChecks(config),
    {
      name: "nats",
      kind: "nats",
      target: config.NATS_URL,
      run: async () => ({ healthy: true, detail: `rtt ${await bus.nc.rtt()} ms` }),
    },
    {
      name: "postgres",
      kind: "postgres",
      target: db.kind,
      run: async () => {
        await db.query("SELECT 1");
        return { healthy: true, detail: db.kind };
      },
    },
  ];
  const gatewayUrl = config.GATEWAY_HEALTH_URL;
  if (gatewayUrl) {
    checks.push({
      name: "gateway",
      kind: "http",
      target: gatewayUrl,
      run: async () => {
        const res = await fetch(gatewayUrl, { signal: AbortSignal.timeout(config.HEALTH_TIMEOUT_MS) });
        return { healthy: res.ok, detail: `HTTP ${res.status}` };
      },
    });
  }

  await serve(host, {
    name: "monitoring",
    logger,
    metrics,
    bindHost: config.BIND_HOST,
    httpPort: config.HTTP_PORT,
    grpcPort: config.GRPC_PORT,
    graceMs: config.SHUTDOWN_GRACE_MS,
    grpc: [
      {
        name: "sloughgpt.monitoring.v1.MonitoringService",
        definition: monitoring.MonitoringServiceService,
        implementation: monitoringHandlers({
          checks,
          timeoutMs: config.HEALTH_TIMEOUT_MS,
          db,
          ingest: ingest.state,
          logger,
          metrics,
        }),
      },
    ],
    checks: {
      postgres: async () => void (await db.query("SELECT 1")),
      nats: async () => void (await bus.nc.rtt()),
      "usage-consumer": () => (consumerUp ? undefined : Promise.reject(new Error("not consuming"))),
    },
  });
});
