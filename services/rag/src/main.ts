import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { QdrantClient } from "@qdrant/js-client-rest";
import { connectBus } from "@sloughgpt/bus";
import { migrate, openDatabase } from "@sloughgpt/db";
import { rag } from "@sloughgpt/proto";
import { createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { configSchema } from "./config.js";
import { JobStore } from "./ingest/jobs.js";
import { enqueueDocuments, ensureIngestStream, runIngestWorker } from "./ingest/queue.js";
import { EmbeddingIndex } from "./retrieval/dense.js";
import { FUSION_DEFAULTS, Retriever } from "./retrieval/retriever.js";
import { ragHandlers } from "./server.js";
import { ServingClient } from "./serving-client.js";
import { QdrantVectors } from "./store/qdrant.js";
import { QdrantHybrid } from "./store/qdrant-hybrid.js";
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
  const qdrant = config.QDRANT_URL
    ? new QdrantVectors(
        new QdrantClient({
          url: config.QDRANT_URL,
          apiKey: config.QDRANT_API_KEY,
          checkCompatibility: false,
        }),
        config.QDRANT_COLLECTION,
      )
    : undefined;
  const store = new RagStore(db, qdrant);
  const serving = new ServingClient(config.SERVING_ADDR, config.EMBED_TIMEOUT_MS);
  host.defer("serving client", async () => serving.close());
  // Ends background work (the ingest worker, calibrations) at shutdown.
  const stopWorker = new AbortController();
  const retriever = new Retriever({
    lexical: store,
    dense: new EmbeddingIndex(store, serving),
    // Hybrid search of a Qdrant collection in one Query API request (dense and sparse prefetches, RRF).
    storeFusion: qdrant ? new QdrantHybrid(qdrant, serving) : undefined,
    fusion: {
      ...FUSION_DEFAULTS,
      weights: { lexical: config.HYBRID_LEXICAL_WEIGHT, dense: config.HYBRID_DENSE_WEIGHT },
    },
    defaultMode: config.DEFAULT_SEARCH_MODE,
    calibration: {
      store,
      signal: stopWorker.signal,
      onError: (err, col) =>
        logger.warn({ err, team: col.team, collection: col.name }, "Failed to calibrate the dense weight"),
    },
  });

  const bus = await connectBus({
    url: config.NATS_URL,
    namespace: config.NATS_NAMESPACE,
    name: "rag",
    logger,
  });
  host.defer("nats", () => bus.close());
  await ensureIngestStream(bus);
  const jobs = new JobStore(db);
  const workerLog = logger.child({ component: "ingest-worker" });
  // Restarted after a failure (JetStream unavailable, say) until shutdown.
  const working = (async () => {
    for (let attempt = 0; !stopWorker.signal.aborted; attempt++) {
      try {
        await runIngestWorker({
          bus,
          store,
          jobs,
          embedder: serving,
          tokenizer: serving,
          logger: workerLog,
          signal: stopWorker.signal,
          maxDeliver: config.INGEST_MAX_DELIVER,
        });
      } catch (err) {
        workerLog.error({ err, attempt }, "Stopped ingest worker with an error; restarting");
      }
      const backoff = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      await sleep(backoff, undefined, { signal: stopWorker.signal }).catch(() => undefined);
    }
  })();
  host.defer("ingest-worker", async () => {
    stopWorker.abort();
    await working;
    await retriever.idle();
    await store.idle();
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
          qdrantConfigured: qdrant !== undefined,
          jobs,
          enqueue: (job, docs) => enqueueDocuments(bus, job, docs),
          retriever,
          chat: serving,
          embedder: serving,
          tokenizer: serving,
          defaults: {
            chunkSize: config.DEFAULT_CHUNK_SIZE,
            chunkOverlap: config.DEFAULT_CHUNK_OVERLAP,
            embeddingModel: config.DEFAULT_EMBEDDING_MODEL,
            answerModel: config.DEFAULT_ANSWER_MODEL,
          },
          logger,
          metrics,
        }),
      },
    ],
    checks: { postgres: async () => void (await db.query("SELECT 1")) },
  });
});
