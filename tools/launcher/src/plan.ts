export const SERVICE_NAMES = [
  "serving",
  "rag",
  "reasoning",
  "training-controller",
  "monitoring",
  "gateway",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface Ports {
  gateway: number;
  /** gRPC port of each gRPC service. */
  grpc: Record<Exclude<ServiceName, "gateway">, number>;
  /** Ops port (/metrics, /healthz, /readyz) of every service. */
  ops: Record<ServiceName, number>;
}

export const DEFAULT_PORTS: Ports = {
  gateway: 8080,
  grpc: { serving: 50051, rag: 50052, reasoning: 50053, "training-controller": 50054, monitoring: 50055 },
  ops: {
    gateway: 9100,
    serving: 9101,
    rag: 9102,
    reasoning: 9103,
    "training-controller": 9104,
    monitoring: 9105,
  },
};

export interface PlanInput {
  ports: Ports;
  natsUrl: string;
  natsNamespace: string;
  /** Unset: each service keeps embedded PGlite under dataDir. */
  databaseUrl?: string | undefined;
  dataDir: string;
  modelPath: string;
  modelId: string;
  adminKey: string;
  logLevel: string;
  /** Extra variables for every service (e.g. LLAMA_SEQUENCES). */
  extraEnv?: Record<string, string>;
}

export interface ServiceSpec {
  name: ServiceName;
  /** Entry point relative to the repository root. */
  entry: string;
  env: Record<string, string>;
  opsPort: number;
}

/**
 * What to start and with which environment: a pure function so the launcher and the
 * test harness wire the platform the same way. Order is start order (dependencies first).
 */
export function platformPlan(p: PlanInput): ServiceSpec[] {
  const addr = (port: number) => `127.0.0.1:${port}`;
  const common: Record<string, string> = {
    NATS_URL: p.natsUrl,
    NATS_NAMESPACE: p.natsNamespace,
    DATA_DIR: p.dataDir,
    LOG_LEVEL: p.logLevel,
    BIND_HOST: "127.0.0.1",
    ...(p.databaseUrl ? { DATABASE_URL: p.databaseUrl } : {}),
    ...p.extraEnv,
  };
  const peers = {
    SERVING_ADDR: addr(p.ports.grpc.serving),
    RAG_ADDR: addr(p.ports.grpc.rag),
    REASONING_ADDR: addr(p.ports.grpc.reasoning),
    TRAINING_ADDR: addr(p.ports.grpc["training-controller"]),
    MONITORING_ADDR: addr(p.ports.grpc.monitoring),
  };
  const specific: Record<ServiceName, Record<string, string>> = {
    serving: { MODEL_PATH: p.modelPath, MODEL_ID: p.modelId },
    rag: {
      SERVING_ADDR: peers.SERVING_ADDR,
      DEFAULT_EMBEDDING_MODEL: p.modelId,
      DEFAULT_ANSWER_MODEL: p.modelId,
    },
    reasoning: { SERVING_ADDR: peers.SERVING_ADDR, DEFAULT_MODEL: p.modelId },
    "training-controller": {},
    monitoring: { ...peers, GATEWAY_HEALTH_URL: `http://127.0.0.1:${p.ports.ops.gateway}/readyz` },
    gateway: { ...peers, PORT: String(p.ports.gateway), SLOUGHGPT_ADMIN_KEY: p.adminKey },
  };
  return SERVICE_NAMES.map((name) => ({
    name,
    entry: `services/${name}/src/main.ts`,
    opsPort: p.ports.ops[name],
    env: {
      ...common,
      HTTP_PORT: String(p.ports.ops[name]),
      ...(name === "gateway" ? {} : { GRPC_PORT: String(p.ports.grpc[name]) }),
      ...specific[name],
    },
  }));
}
