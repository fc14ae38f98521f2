import path from "node:path";
import { migrate, openDatabase } from "@sloughgpt/db";
import { rag } from "@sloughgpt/proto";
import { createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { configSchema } from "./config.js";
import { ragHandlers } from "./server.js";
import { migrations, RagStore } from "./store/store.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "rag", level: config.LOG_LEVEL });

await runMain(logger, async (host) => {
  const metrics = createMetrics("rag");
  const db = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: path.join(config.DATA_DIR, "pglite", "rag"),
  });
  host.defer("db", () => db.close());
  await migrate(db, "rag", migrations);
  const store = new RagStore(db);

  await serve(host, {
    name: "rag",
    logger,
    metrics,
    bindHost: config.BIND_HOST,
    httpPort: config.HTTP_PORT,
    grpcPort: config.GRPC_PORT,
    graceMs: config.SHUTDOWN_GRACE_MS,
    grpc: [
      {
        name: "sloughgpt.rag.v1.RagService",
        definition: rag.RagServiceService,
        implementation: ragHandlers({
          store,
          defaults: { chunkSize: config.DEFAULT_CHUNK_SIZE, chunkOverlap: config.DEFAULT_CHUNK_OVERLAP },
          logger,
          metrics,
        }),
      },
    ],
    checks: { postgres: async () => void (await db.query("SELECT 1")) },
  });
});
