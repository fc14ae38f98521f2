import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { type Bus, connectBus, ensureStreams, publish, subjects } from "@sloughgpt/bus";
import { migrate, openDatabase } from "@sloughgpt/db";
import { training } from "@sloughgpt/proto";
import {
  createLogger,
  createMetrics,
  loadConfig,
  type Registry,
  runMain,
  type ServiceHost,
  serve,
} from "@sloughgpt/runtime";
import { type Config, configSchema } from "./config.js";
import { TrainingController } from "./controller/controller.js";
import { KubeJobCluster } from "./jobs/cluster.js";
import { JobStore, migrations } from "./jobs/store.js";
import { LocalJobCluster } from "./local/runner.js";
import { trainingHandlers } from "./server.js";

const config = loadConfig(configSchema, process.env);
const logger = createLogger({ service: "training-controller", level: config.LOG_LEVEL });

async function connectEvents(host: ServiceHost, config: Config): Promise<Bus> {
  const bus = await connectBus({
    url: config.NATS_URL,
    namespace: config.NATS_NAMESPACE,
    name: "training-controller",
    logger,
  });
  host.defer("bus", () => bus.close());
  await ensureStreams(bus, ["MODELS"]);
  return bus;
}

/**
 * Phase events go out on core NATS; `model.published` goes to the MODELS stream, so serving
 * replicas that are down when a job finishes still register the model when they come back.
 */
function publisher(bus: Bus): (subject: string, payload: unknown) => void {
  return (subject, payload) => {
    if (subject !== subjects.modelPublished.subject) {
      bus.nc.publish(bus.subject(subject), JSON.stringify(payload));
      return;
    }
    const event = payload as { job?: { uid?: string }; modelId?: string };
    void publish(bus, subjects.modelPublished, payload as never, {
      msgId: `model.published.${event.job?.uid ?? event.modelId}`,
    })
      .then(() => logger.info({ model: event.modelId }, "Published model.published"))
      .catch((err: unknown) => logger.error({ err, payload }, "Failed to publish model.published"));
  };
}

/** The Kubernetes backend: informers, reconcile, leader election; phase events go to NATS. */
async function startController(
  host: ServiceHost,
  config: Config,
  registry: Registry,
): Promise<{ kc: KubeConfig; controller: TrainingController }> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const bus = await connectEvents(host, config);
  const controller = new TrainingController({
    kubeConfig: kc,
    logger,
    namespace: config.WATCH_NAMESPACE,
    registry,
    resyncSeconds: config.RESYNC_SECONDS,
    pendingTimeoutSeconds: config.PENDING_TIMEOUT_SECONDS,
    podOptions: { initImage: config.INIT_IMAGE, dnsWaitSeconds: 600 },
    publish: publisher(bus),
    leaderElection: config.LEADER_ELECTION
      ? {
          namespace: config.LEASE_NAMESPACE,
          name: "sloughgpt-training-controller",
          identity: config.POD_NAME,
          leaseDurationSeconds: config.LEASE_DURATION_SECONDS,
          retryPeriodSeconds: Math.max(1, Math.floor(config.LEASE_DURATION_SECONDS / 5)),
        }
      : undefined,
  });
  await controller.start();
  host.defer("controller", () => controller.stop({ release: true }));
  return { kc, controller };
}

async function startLocal(host: ServiceHost): Promise<LocalJobCluster> {
  const bus = await connectEvents(host, config);
  const local = new LocalJobCluster({
    logDir: path.join(config.DATA_DIR, "training", "logs"),
    logger,
    publish: publisher(bus),
  });
  host.defer("local-jobs", () => local.close());
  return local;
}

await runMain(logger, async (host) => {
  const metrics = createMetrics("training-controller");
  const k8s =
    config.BACKEND === "kubernetes" ? await startController(host, config, metrics.registry) : undefined;
  const kc = k8s?.kc;
  const cluster = kc
    ? new KubeJobCluster(kc)
    : config.BACKEND === "local"
      ? await startLocal(host)
      : undefined;
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
          cluster,
          defaultNamespace: config.DEFAULT_NAMESPACE,
          logger,
          metrics,
        }),
      },
    ],
    checks: {
      postgres: async () => void (await db.query("SELECT 1")),
      ...(k8s && {
        kubernetes: async () => {
          if (!k8s.controller.informers.synced()) throw new Error("the informer caches are not filled yet");
        },
      }),
    },
  });
});
