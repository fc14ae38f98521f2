import { type Demand, type NodeCapacity, planAdmission } from "./admission.js";

const node = (
  name: string,
  gpus: number,
  labels: Record<string, string> = {},
  schedulable = true,
): NodeCapacity => ({
  name,
  labels,
  allocatableGpus: gpus,
  schedulable,
});
const job = (key: string, numNodes: number, gpusPerNode: number, extra: Partial<Demand> = {}): Demand => ({
  key,
  priority: 0,
  created: 0,
  numNodes,
  gpusPerNode,
  ...extra,
});
const eightByEight = Array.from({ length: 2 }, (_, i) => node(`n${i}`, 8, { pool: "a100" }));

describe("planAdmission", () => {
  test.each([
    ["fits exactly", [job("a", 2, 8)], [], [["a", true, "admitted: 16 GPUs on 2 nodes"]]],
    ["one GPU short", [job("a", 3, 8)], [], [["a", false, "needs 24 GPUs, 16 free"]]],
    [
      "running pods hold GPUs",
      [job("a", 2, 8)],
      [{ nodeName: "n0", gpus: 8 }],
      [["a", false, "needs 16 GPUs, 8 free"]],
    ],
    [
      "free GPUs spread too thin for one node",
      [job("a", 1, 8)],
      [
        { nodeName: "n0", gpus: 4 },
        { nodeName: "n1", gpus: 4 },
      ],
      [["a", false, "needs 8 GPUs, 8 free (no 1 nodes with 8 free each)"]],
    ],
    [
      "the second job gets what the first leaves",
      [job("a", 1, 8), job("b", 1, 8, { created: 1 })],
      [],
      [
        ["a", true, "admitted: 8 GPUs on 1 nodes"],
        ["b", true, "admitted: 8 GPUs on 1 nodes"],
      ],
    ],
  ] as const)("%s", (_name, waiting, used, expected) => {
    const plan = planAdmission({ nodes: eightByEight, used: [...used], reserved: [], waiting: [...waiting] });
    expect(expected.map(([k]) => [k, plan.get(k)?.admit, plan.get(k)?.message])).toEqual(expected);
  });

  test("higher priority first, then older; a job that does not fit holds back its queue", () => {
    const plan = planAdmission({
      nodes: eightByEight,
      used: [],
      reserved: [],
      waiting: [
        job("old-small", 1, 8, { created: 1 }),
        job("urgent-big", 2, 8, { priority: 10, created: 5 }),
        job("new-small", 1, 8, { created: 2 }),
      ],
    });
    expect(plan.get("urgent-big")?.admit).toBe(true);
    expect(plan.get("old-small")).toMatchObject({ admit: false, reason: "InsufficientGpus" });
    expect(plan.get("new-small")).toMatchObject({
      admit: false,
      reason: "WaitingBehindHigherPriority",
      message: "waiting behind old-small; needs 8 GPUs, 0 free",
    });
  });

  test("no partial gang: a 3-node job on 2 free nodes admits none of its pods, a 1-node job in another queue still runs", () => {
    const plan = planAdmission({
      nodes: eightByEight,
      used: [],
      reserved: [],
      waiting: [job("big", 3, 8), job("other", 1, 8, { queue: "b", created: 1 })],
    });
    expect(plan.get("big")?.admit).toBe(false);
    expect(plan.get("other")?.admit).toBe(true);
  });

  test("admitted jobs whose pods are not scheduled yet keep their GPUs reserved", () => {
    const plan = planAdmission({
      nodes: eightByEight,
      used: [],
      reserved: [{ gpus: 8 }, { gpus: 8 }],
      waiting: [job("a", 1, 1)],
    });
    expect(plan.get("a")).toMatchObject({ admit: false, message: "needs 1 GPUs, 0 free" });
  });

  test("nodes outside the selector, cordoned or without GPUs do not count", () => {
    const nodes = [
      node("a0", 8, { pool: "a100" }, false),
      node("h0", 8, { pool: "h100" }),
      node("a1", 4, { pool: "a100" }),
    ];
    const plan = planAdmission({
      nodes,
      used: [],
      reserved: [],
      waiting: [
        job("x", 1, 8, { nodeSelector: { pool: "a100" } }),
        job("y", 1, 1, { nodeSelector: { pool: "tpu" }, queue: "q" }),
      ],
    });
    expect(plan.get("x")).toMatchObject({ admit: false, message: "needs 8 GPUs, 4 free" });
    expect(plan.get("y")).toMatchObject({ admit: false, reason: "NoMatchingNodes" });
  });

  test("a job without GPUs is never held back", () => {
    const plan = planAdmission({ nodes: [], used: [], reserved: [], waiting: [job("cpu", 2, 0)] });
    expect(plan.get("cpu")?.admit).toBe(true);
  });
});
