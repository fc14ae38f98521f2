import { credentials, status } from "@grpc/grpc-js";
import { jest } from "@jest/globals";
import { type Db, migrate, openDatabase } from "@sloughgpt/db";
import { training } from "@sloughgpt/proto";
import { callUnary, createMetrics, type GrpcServer, startGrpcServer } from "@sloughgpt/runtime";
import { TrainingController } from "../src/controller/controller.js";
import { KubeJobCluster } from "../src/jobs/cluster.js";
import { JobStore, migrations } from "../src/jobs/store.js";
import { trainingHandlers } from "../src/server.js";
import { Cluster, logger, NS } from "./harness.js";

// The gRPC API with the Kubernetes backend: jobs become TrainingJobs in the (fake) cluster, reconciled
// by a running controller, and their status, suspend, resume and delete go through the API server.
jest.setTimeout(30_000);

let cluster: Cluster;
let controller: TrainingController;
let db: Db;
let server: GrpcServer;
let client: training.TrainingServiceClient;

beforeAll(async () => {
  cluster = await new Cluster().start([
    { name: "gpu-0", gpus: 8 },
    { name: "gpu-1", gpus: 8 },
  ]);
  controller = new TrainingController({
    kubeConfig: cluster.kc,
    logger,
    namespace: NS,
    now: cluster.clock.now,
  });
  await controller.start();
  db = await openDatabase({ maxConnections: 2 });
  await migrate(db, "training", migrations);
  const implementation = trainingHandlers({
    store: new JobStore(db),
    cluster: new KubeJobCluster(cluster.kc),
    defaultNamespace: NS,
    logger,
    metrics: createMetrics("test"),
  });
  server = await startGrpcServer({
    port: 0,
    host: "127.0.0.1",
    services: [{ name: "training", definition: training.TrainingServiceService, implementation }],
    logger,
  });
  client = new training.TrainingServiceClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await server?.shutdown(100);
  await controller?.stop();
  await db?.close();
  await cluster?.close();
});

const manifest = (name: string) =>
  `apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata: {name: ${name}}\nspec: {image: trainer:1, numNodes: 2, resourcesPerNode: {limits: {nvidia.com/gpu: 4}}}`;
const get = (name: string, team = "research") =>
  callUnary(client.getJob.bind(client), { namespace: "", name, team }).then((r) => r.job!);

describe("TrainingService with the Kubernetes backend", () => {
  test("a submitted job runs in the cluster and its status comes back through GetJob and ListJobs", async () => {
    await callUnary(client.submitJob.bind(client), { manifest: manifest("api"), team: "research" });
    const stored = await cluster.job("api");
    expect(stored?.metadata.labels).toMatchObject({ "sloughgpt.io/team": "research" });
    await cluster.untilRunning("api", 2);
    const job = await cluster.until(async () => {
      const j = await get("api");
      return j.phase === "Running" ? j : undefined;
    });
    expect(JSON.parse(job.statusJson)).toMatchObject({
      phase: "Running",
      admission: "admitted: 8 GPUs on 2 nodes",
    });
    const listed = await callUnary(client.listJobs.bind(client), { namespace: "", team: "research" });
    expect(listed.jobs.map((j) => [j.name, j.phase])).toEqual([["api", "Running"]]);
  });

  test("suspend and resume flip spec.suspend; delete removes the job and its pods; other teams see nothing", async () => {
    await callUnary(client.submitJob.bind(client), { manifest: manifest("ctl"), team: "research" });
    await cluster.untilRunning("ctl", 2);
    const other = callUnary(client.suspendJob.bind(client), { namespace: "", name: "ctl", team: "sales" });
    await expect(other).rejects.toMatchObject({ code: status.NOT_FOUND });

    await callUnary(client.suspendJob.bind(client), { namespace: "", name: "ctl", team: "research" });
    await cluster.untilPhase("ctl", "Suspended");
    await cluster.until(async () => (await cluster.pods("ctl")).length === 0);
    await callUnary(client.resumeJob.bind(client), { namespace: "", name: "ctl", team: "research" });
    await cluster.untilRunning("ctl", 2);

    await callUnary(client.deleteJob.bind(client), { namespace: "", name: "ctl", team: "research" });
    expect(await cluster.job("ctl")).toBeUndefined();
    expect(await cluster.pods("ctl")).toEqual([]);
    await expect(get("ctl")).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  test("GetJobLogs reads each node's trainer log through the API server; bad input and other teams are refused", async () => {
    await callUnary(client.submitJob.bind(client), { manifest: manifest("talk"), team: "research" });
    await cluster.untilRunning("talk", 2);
    cluster.kubelet.log(NS, "talk-node-0", "step 1 loss 6.0\nstep 2 loss 5.0\n");
    cluster.kubelet.log(NS, "talk-node-1", "rank 1 ready\n");
    const logs = (req: Partial<training.GetJobLogsRequest>) =>
      callUnary(client.getJobLogs.bind(client), {
        namespace: "",
        name: "talk",
        team: "research",
        tailLines: 0,
        ...req,
      });
    expect((await logs({})).nodes).toEqual([
      { node: 0, source: "talk-node-0", attempt: 0, text: "step 1 loss 6.0\nstep 2 loss 5.0\n", message: "" },
      { node: 1, source: "talk-node-1", attempt: 0, text: "rank 1 ready\n", message: "" },
    ]);
    expect((await logs({ node: 0, tailLines: 1 })).nodes.map((n) => n.text)).toEqual(["step 2 loss 5.0\n"]);
    expect((await logs({ attempt: 3 })).nodes[0]).toMatchObject({ text: "", message: "no pod of attempt 3" });
    await expect(logs({ node: 2 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(logs({ tailLines: 20_000 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    await expect(logs({ team: "sales" })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await callUnary(client.deleteJob.bind(client), { namespace: "", name: "talk", team: "research" });
  });

  test("a name taken in the cluster is ALREADY_EXISTS and leaves no record behind", async () => {
    await cluster.submit("taken", {});
    const submit = callUnary(client.submitJob.bind(client), {
      manifest: manifest("taken"),
      team: "research",
    });
    await expect(submit).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
    await expect(get("taken")).rejects.toMatchObject({ code: status.NOT_FOUND });
  });
});
