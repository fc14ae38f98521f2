import path from "node:path";
import { migrate, openDatabase } from "@sloughgpt/db";
import { rag } from "@sloughgpt/proto";
import { createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { configSchema } from "./config.js";
import { EmbeddingIndex } from "./retrieval/dense.js";
import { FUSION_DEFAULTS, Retriever } from "./retrieval/retriever.js";
import { ragHandlers } from "./server.js";
import { ServingEmbedder } from "./serving-client.js";
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
  const embedder = new ServingEmbedder(config.SERVING_ADDR, config.EMBED_TIMEOUT_MS);
  host.defer("serving client", async () => embedder.close());
  const retriever = new Retriever({
    lexical: store,
    dense: new EmbeddingIndex(store, embedder),
    fusion: {
      ...FUSION_DEFAULTS,
      weights: { lexical: config.HYBRID_LEXICAL_WEIGHT, dense: config.HYBRID_DENSE_WEIGHT },
    },
    defaultMode: config.DEFAULT_SEARCH_MODE,
    calibration: { store },
  });

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
          retriever,
          embedder,
          defaults: {
            chunkSize: config.DEFAULT_CHUNK_SIZE,
            chunkOverlap: config.DEFAULT_CHUNK_OVERLAP,
            embeddingModel: config.DEFAULT_EMBEDDING_MODEL,
          },
          logger,
          metrics,
        }),
      },
    ],
    checks: { postgres: async () => void (await db.query("SELECT 1")) },
  });
});
