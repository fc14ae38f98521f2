import { DEFAULT_PORTS, platformPlan, SERVICE_NAMES } from "./plan.js";

const input = {
  ports: DEFAULT_PORTS,
  natsUrl: "nats://127.0.0.1:4222",
  natsNamespace: "sloughgpt",
  dataDir: "/tmp/d",
  modelPath: "/m.gguf",
  modelId: "tiny",
  adminKey: "sk-sg-admin-0123456789",
  logLevel: "info",
};

describe("platformPlan", () => {
  const plan = platformPlan(input);
  const byName = Object.fromEntries(plan.map((s) => [s.name, s]));

  it("starts all six services, serving first and gateway last", () => {
    expect(plan.map((s) => s.name)).toEqual([...SERVICE_NAMES]);
    expect(plan[0]?.name).toBe("serving");
    expect(plan.at(-1)?.name).toBe("gateway");
  });

  it("gives every service its own ops port and every gRPC service its own gRPC port", () => {
    const ports = plan.flatMap((s) => [s.env.HTTP_PORT, s.env.GRPC_PORT].filter(Boolean));
    expect(new Set(ports).size).toBe(ports.length);
    expect(byName.gateway?.env.GRPC_PORT).toBeUndefined();
  });

  it("points each client at the port its peer listens on", () => {
    expect(byName.gateway?.env.SERVING_ADDR).toBe(`127.0.0.1:${byName.serving?.env.GRPC_PORT}`);
    expect(byName.reasoning?.env.SERVING_ADDR).toBe(`127.0.0.1:${byName.serving?.env.GRPC_PORT}`);
    expect(byName.monitoring?.env.TRAINING_ADDR).toBe(
      `127.0.0.1:${byName["training-controller"]?.env.GRPC_PORT}`,
    );
    expect(byName.monitoring?.env.GATEWAY_HEALTH_URL).toBe(
      `http://127.0.0.1:${byName.gateway?.env.HTTP_PORT}/readyz`,
    );
  });

  it("gives the admin key to the gateway only", () => {
    expect(plan.filter((s) => s.env.SLOUGHGPT_ADMIN_KEY).map((s) => s.name)).toEqual(["gateway"]);
  });

  it("passes DATABASE_URL only when one is configured", () => {
    expect(plan.some((s) => "DATABASE_URL" in s.env)).toBe(false);
    const withDb = platformPlan({ ...input, databaseUrl: "postgres://x/y" });
    expect(withDb.every((s) => s.env.DATABASE_URL === "postgres://x/y")).toBe(true);
  });
});
