import { jest } from "@jest/globals";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { TrainingJobStatus } from "../src/api/types.js";
import { TrainingController } from "../src/controller/controller.js";
import { logger } from "./harness.js";

// The same behaviour against a real Kubernetes (a kind cluster in CI: .github/workflows/kind.yml), where
// pods really run: busybox scripts exit with chosen codes, DNS is real, deletion is graceful. Skipped
// unless KIND_KUBECONFIG names the cluster's kubeconfig and the CRD is applied.
jest.setTimeout(600_000);

const kubeconfig = process.env.KIND_KUBECONFIG;
const suite = kubeconfig ? describe : describe.skip;
const NS = `tj-e2e-${process.pid}`;
const TJ = { group: "sloughgpt.io", version: "v1alpha1", plural: "trainingjobs", namespace: NS };

suite("against a real cluster", () => {
  const kc = new KubeConfig();
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  let controller: TrainingController;

  beforeAll(async () => {
    kc.loadFromFile(kubeconfig!);
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    controller = new TrainingController({ kubeConfig: kc, logger, namespace: NS, resyncSeconds: 30 });
    await controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
    await core?.deleteNamespace({ name: NS }).catch(() => undefined);
  });

  const submit = (name: string, script: string, spec: Record<string, unknown> = {}) =>
    custom.createNamespacedCustomObject({
      ...TJ,
      body: {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name },
        spec: { image: "busybox:1.36", command: ["sh", "-c", script], ...spec },
      },
    });

  async function finished(name: string): Promise<TrainingJobStatus> {
    for (;;) {
      const job = (await custom.getNamespacedCustomObject({ ...TJ, name })) as { status?: TrainingJobStatus };
      if (job.status?.phase === "Succeeded" || job.status?.phase === "Failed") return job.status;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  test("a 2-node job reaches its master by DNS, survives a signal exit by restarting the gang, and succeeds", async () => {
    const script = [
      'nslookup "$MASTER_ADDR" >/dev/null',
      'if [ "$NODE_RANK" = 1 ] && [ "$SLOUGHGPT_RESTART_COUNT" = 0 ]; then exit 137; fi',
      'test "$WORLD_SIZE" = 2',
    ].join(" && ");
    await submit("restart", script, { numNodes: 2, failurePolicy: { maxRestarts: 2, backoffSeconds: 1 } });
    const status = await finished("restart");
    expect(status).toMatchObject({ phase: "Succeeded", restarts: 1 });
  });

  test("a permanent exit fails the job with the exit code in its condition", async () => {
    await submit("permanent", "exit 3");
    const status = await finished("permanent");
    expect(status.phase).toBe("Failed");
    expect(status.conditions?.find((c) => c.type === "Failed")).toMatchObject({ reason: "PermanentExit" });
    expect(status.nodes?.[0]?.exitCode).toBe(3);
  });
});
