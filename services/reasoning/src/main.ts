import { reasoning } from "@sloughgpt/proto";
import { createLogger, createMetrics, loadConfig, runMain, serve } from "@sloughgpt/runtime";
import { configSchema } from "./config.js";
import { reasoningHandlers } from "./server.js";
import { ServingLlm } from "./serving-client.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "reasoning", level: config.LOG_LEVEL });

await runMain(logger, async (host) => {
  const metrics = createMetrics("reasoning");
  const llm = new ServingLlm(config.SERVING_ADDR, config.SERVING_TIMEOUT_MS);
  host.defer("serving-client", () => llm.close());
  await serve(host, {
    name: "reasoning",
    logger,
    metrics,
    bindHost: config.BIND_HOST,
    httpPort: config.HTTP_PORT,
    grpcPort: config.GRPC_PORT,
    graceMs: config.SHUTDOWN_GRACE_MS,
    grpc: [
      {
        name: "sloughgpt.reasoning.v1.ReasoningService",
        definition: reasoning.ReasoningServiceService,
        implementation: reasoningHandlers({ llm, defaultModel: config.DEFAULT_MODEL, logger, metrics }),
      },
    ],
  });
});
