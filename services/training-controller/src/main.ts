import path from "node:path";
import { migrate, openDatabase } from "@sloughgpt/db";
import { training } from "@sloughgpt/proto";
import { createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { configSchema } from "./config.js";
import { JobStore, migrations } from "./jobs/store.js";
import { trainingHandlers } from "./server.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "training-controller", level: config.LOG_LEVEL });

await runMain(logger, async (host) => {
  const metrics = createMetrics("training-controller");
  const db = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: path.join(config.DATA_DIR, "pglite", "training-controller"),
  });
  host.defer("db", () => db.close());
  await migrate(db, "training", migrations);
  await serve(host, {
    name: "training-controller",
    logger,
    metrics,
    bindHost: config.BIND_HOST,
    httpPort: config.HTTP_PORT,
    grpcPort: config.GRPC_PORT,
    graceMs: config.SHUTDOWN_GRACE_MS,
    grpc: [
      {
        name: "sloughgpt.training.v1.TrainingService",
        definition: training.TrainingServiceService,
        implementation: trainingHandlers({
          store: new JobStore(db),
          defaultNamespace: config.DEFAULT_NAMESPACE,
          logger,
          metrics,
        }),
      },
    ],
    checks: { postgres: async () => void (await db.query("SELECT 1")) },
  });
});
