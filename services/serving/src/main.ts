import { connectBus, ensureStreams } from "@sloughgpt/bus";
import { serving } from "@sloughgpt/proto";
import { createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { configSchema } from "./config.js";
import { LlamaEngine } from "./engine/llama-engine.js";
import { servingMetrics } from "./metrics.js";
import { servingHandlers } from "./server.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "serving", level: config.LOG_LEVEL });

await runMain(logger, async (host) => {
  const metrics = createMetrics("serving");
  const bus = await connectBus({
    url: config.NATS_URL,
    namespace: config.NATS_NAMESPACE,
    name: "serving",
    logger,
  });
  host.defer("nats", () => bus.close());
  await ensureStreams(bus, ["USAGE"]);

  const engine = await LlamaEngine.load({
    modelPath: config.MODEL_PATH,
    modelId: config.MODEL_ID,
    threads: config.LLAMA_THREADS,
    sequences: config.LLAMA_SEQUENCES,
    contextSize: config.LLAMA_CONTEXT_SIZE,
    gpu: config.LLAMA_GPU,
    gpuLayers: config.LLAMA_GPU_LAYERS,
    maxQueue: config.MAX_QUEUE,
    logger: logger.child({ component: "engine" }),
  });
  host.defer("engine", () => engine.close());

  const handlers = servingHandlers({
    engine,
    bus,
    logger,
    metrics,
    serving: servingMetrics(metrics, engine),
  });
  host.defer("usage-events", () => handlers.drainUsage());

  await serve(host, {
    name: "serving",
    logger,
    metrics,
    bindHost: config.BIND_HOST,
    httpPort: config.HTTP_PORT,
    grpcPort: config.GRPC_PORT,
    graceMs: config.SHUTDOWN_GRACE_MS,
    grpc: [
      {
        name: "sloughgpt.serving.v1.ServingService",
        definition: serving.ServingServiceService,
        implementation: handlers.impl,
      },
    ],
    checks: { nats: async () => void (await bus.nc.rtt()) },
  });
});
