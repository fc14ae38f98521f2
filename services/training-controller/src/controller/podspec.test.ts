import { buildPod, buildService } from "./podspec.js";
import { storedJob } from "./testjob.js";

const env = (pod: ReturnType<typeof buildPod>) =>
  Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));

describe("buildPod", () => {
  const job = storedJob({
    numNodes: 4,
    procsPerNode: 8,
    resourcesPerNode: { requests: { cpu: "16", "nvidia.com/gpu": 8 } },
    env: [
      { name: "NCCL_DEBUG", value: "WARN" },
      { name: "MASTER_ADDR", value: "evil" },
    ],
    checkpointDir: "/ckpt/llm",
    nodeSelector: { pool: "a100" },
  });

  test.each([0, 1, 3])("node %i gets torchrun's rendezvous for a 4 x 8 job", (i) => {
    const pod = buildPod(job, i, 2);
    expect(pod.metadata?.name).toBe(`llm-node-${i}`);
    expect(pod.spec).toMatchObject({ hostname: `llm-node-${i}`, subdomain: "llm", restartPolicy: "Never" });
    expect(env(pod)).toEqual({
      NCCL_DEBUG: "WARN",
      MASTER_ADDR: "llm-node-0.llm",
      MASTER_PORT: "29500",
      WORLD_SIZE: "32",
      NODE_RANK: String(i),
      NPROC_PER_NODE: "8",
      NNODES: "4",
      PET_MASTER_ADDR: "llm-node-0.llm",
      PET_MASTER_PORT: "29500",
      PET_NNODES: "4",
      PET_NODE_RANK: String(i),
      PET_NPROC_PER_NODE: "8",
      CHECKPOINT_DIR: "/ckpt/llm",
      SLOUGHGPT_JOB_NAME: "llm",
      SLOUGHGPT_RESTART_COUNT: "2",
    });
  });

  test("with one process per node RANK is the node's rank", () => {
    const pod = buildPod(storedJob({ numNodes: 3 }), 2, 0);
    expect(env(pod)).toMatchObject({ RANK: "2", WORLD_SIZE: "3", NODE_RANK: "2" });
  });

  test("a GPU request becomes an equal limit, as extended resources require", () => {
    const res = buildPod(job, 0, 0).spec?.containers[0]?.resources;
    expect(res).toEqual({
      requests: { cpu: "16", "nvidia.com/gpu": "8" },
      limits: { "nvidia.com/gpu": "8" },
    });
  });

  test("a CPU job asks for no GPUs", () => {
    const res = buildPod(storedJob({ resourcesPerNode: { limits: { cpu: 2 } } }), 0, 0).spec?.containers[0]
      ?.resources;
    expect(res).toEqual({ requests: {}, limits: { cpu: "2" } });
  });

  test("waits for the master's DNS name before the trainer starts, and is owned by the job", () => {
    const pod = buildPod(job, 1, 0);
    const init = pod.spec?.initContainers?.[0];
    expect(init?.command?.join(" ")).toContain("nslookup llm-node-0.llm");
    expect(pod.metadata?.ownerReferences).toEqual([
      {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        name: "llm",
        uid: "uid-1",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(pod.spec?.nodeSelector).toEqual({ pool: "a100" });
    expect(pod.metadata?.labels).toMatchObject({
      "sloughgpt.io/node-index": "1",
      "sloughgpt.io/attempt": "0",
    });
  });
});

describe("buildService", () => {
  test("is headless, publishes starting pods and selects the job's pods", () => {
    const svc = buildService(storedJob());
    expect(svc.metadata?.name).toBe("llm");
    expect(svc.spec).toMatchObject({
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: { "sloughgpt.io/job-name": "llm" },
    });
    expect(svc.metadata?.ownerReferences?.[0]?.uid).toBe("uid-1");
  });
});
