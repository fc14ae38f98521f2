import os from "node:os";
import { connectBus, ensureStreams } from "@sloughgpt/bus";
import { serving } from "@sloughgpt/proto";
import { createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { ResponseCache } from "./cache/index.js";
import { configSchema } from "./config.js";
import { createEmbed } from "./embedding.js";
import { createGenerate } from "./generation.js";
import { startOpenAIApi } from "./http/openai-api.js";
import { servingMetrics } from "./metrics.js";
import { backendFactory } from "./registry/factory.js";
import { declaredModels } from "./registry/load.js";
import { PublishedModels } from "./registry/published.js";
import { ModelRegistry } from "./registry/registry.js";
import { servingHandlers } from "./server.js";
import { UsageMeter } from "./usage.js";

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
  await ensureStreams(bus, ["USAGE", "MODELS"]);

  let m: ReturnType<typeof servingMetrics> | undefined;
  const registry = new ModelRegistry(
    await declaredModels(config, process.env),
    backendFactory({
      isolation: config.ENGINE_ISOLATION,
      streamIntervalMs: config.STREAM_INTERVAL_MS,
      gpu: config.LLAMA_GPU,
      logger,
      onCrash: (model) => m?.engineRestarts.inc({ model }),
    }),
    logger.child({ component: "registry" }),
    {
      onLoaded: (model, seconds) => m?.modelLoad.observe({ model }, seconds),
    },
  );
  m = servingMetrics(metrics, registry);
  host.defer("models", () => registry.close());
  await registry.start();

  if (config.MODEL_EVENTS) {
    // Every replica loads every published model, so each has a durable consumer of its own.
    const durable =
      config.MODEL_EVENTS_CONSUMER ??
      `serving-models-${os
        .hostname()
        .replace(/[^A-Za-z0-9_-]/g, "-")
        .slice(0, 48)}`;
    const published = new PublishedModels({
      registry,
      logger,
      root: config.MODEL_EVENTS_ROOT,
      defaults: {
        threads: config.LLAMA_THREADS,
        sequences: config.LLAMA_SEQUENCES,
        contextSize: config.LLAMA_CONTEXT_SIZE,
        gpuLayers: config.LLAMA_GPU_LAYERS,
        maxQueue: config.MAX_QUEUE,
      },
    });
    const stop = new AbortController();
    const consuming = published
      .consume(bus, durable, stop.signal)
      .catch((err: unknown) => logger.error({ err }, "Stopped consuming model.published"));
    host.defer("model-events", async () => {
      stop.abort();
      await consuming;
    });
  }

  const cache = config.RESPONSE_CACHE
    ? await ResponseCache.open({
        bus: config.RESPONSE_CACHE_SHARED ? bus : undefined,
        maxEntries: config.RESPONSE_CACHE_MAX_ENTRIES,
        maxBytes: config.RESPONSE_CACHE_MAX_BYTES,
        ttlSeconds: config.RESPONSE_CACHE_TTL_SECONDS,
        sharedMaxBytes: config.RESPONSE_CACHE_SHARED_MAX_BYTES,
        logger: logger.child({ component: "response-cache" }),
      })
    : undefined;
  if (cache) host.defer("response-cache", () => cache.close());

  const usage = new UsageMeter(bus);
  host.defer("usage-events", () => usage.drain());
  const generate = createGenerate({ registry, cache, serving: m, usage });
  const embed = createEmbed({ registry, serving: m, usage });

  const api =
    config.SERVING_API_PORT === undefined
      ? undefined
      : await startOpenAIApi({
          port: config.SERVING_API_PORT,
          host: config.BIND_HOST,
          apiKey: config.SERVING_API_KEY,
          bodyLimitBytes: config.SERVING_API_BODY_LIMIT_BYTES,
          generate,
          embed,
          registry,
          logger,
        });
  let apiClosed: Promise<void> | undefined;
  // Closers run in reverse: this one, registered before the gRPC server's, waits for the HTTP API's
  // close, which the last closer (below) starts together with gRPC's drain.
  if (api) host.defer("openai-api", () => apiClosed ?? api.close(config.SHUTDOWN_GRACE_MS));

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
        implementation: servingHandlers({ registry, generate, embed, logger, metrics }),
      },
    ],
    checks: { nats: async () => void (await bus.nc.rtt()) },
  });
  // Both front ends stop taking requests and drain in one grace period, not one after the other.
  if (api) {
    host.defer("openai-api-stop", () => {
      apiClosed = api.close(config.SHUTDOWN_GRACE_MS);
      apiClosed.catch(() => undefined);
    });
  }
});
