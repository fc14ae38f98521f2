import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { trainingJob } from "../src/api/types.js";
import { LocalJobCluster } from "../src/local/runner.js";
import { logger } from "./harness.js";

// BACKEND=local: the same plan drives real local processes (node -e scripts standing in for trainers).
jest.setTimeout(30_000);

let dir: string;
let runner: LocalJobCluster;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "tj-local-"));
  runner = new LocalJobCluster({ logDir: dir, logger });
});
afterEach(async () => {
  await runner.close();
  await rm(dir, { recursive: true, force: true });
});

const job = (name: string, script: string, spec: Record<string, unknown> = {}) =>
  trainingJob.parse({
    apiVersion: "sloughgpt.io/v1alpha1",
    kind: "TrainingJob",
    metadata: { name },
    spec: { image: "local", command: [process.execPath, "-e", script], ...spec },
  });

/** A process's state letter from /proc (Z: ended, not yet reaped), or "gone". */
const processState = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] ?? "gone";
  } catch {
    return "gone";
  }
};

const printEnv = `console.log(["MASTER_ADDR","MASTER_PORT","WORLD_SIZE","NODE_RANK","RANK","SLOUGHGPT_RESTART_COUNT"].map(k => k + "=" + process.env[k]).join(" "))`;

describe("local backend", () => {
  test("runs every rank with the rendezvous env, restarts the gang on a signal exit, and succeeds", async () => {
    const script = `${printEnv}; process.exit(process.env.NODE_RANK === "1" && process.env.SLOUGHGPT_RESTART_COUNT === "0" ? 137 : 0)`;
    await runner.create(
      job("two", script, { numNodes: 2, failurePolicy: { backoffSeconds: 0 } }),
      "default",
      "t",
    );
    const end = await runner.untilFinished("default", "two");
    expect(end).toMatchObject({ phase: "Succeeded", restarts: 1 });
    const log = (i: number, attempt: number) =>
      readFileSync(path.join(dir, "default", "two", `node-${i}.attempt-${attempt}.log`), "utf8").trim();
    const port = /MASTER_PORT=(\d+)/.exec(log(0, 1))?.[1];
    expect(log(1, 1)).toBe(
      `MASTER_ADDR=127.0.0.1 MASTER_PORT=${port} WORLD_SIZE=2 NODE_RANK=1 RANK=1 SLOUGHGPT_RESTART_COUNT=1`,
    );
    expect(log(1, 0)).toContain("SLOUGHGPT_RESTART_COUNT=0");
  });

  test("procsPerNode > 1 starts that many ranks per node, numbered node by node, each line marked", async () => {
    const script = `console.log(["WORLD_SIZE","RANK","LOCAL_RANK","LOCAL_WORLD_SIZE","GROUP_RANK"].map(k => k + "=" + process.env[k]).join(" "))`;
    await runner.create(job("multi", script, { numNodes: 2, procsPerNode: 2 }), "default", "t");
    expect(await runner.untilFinished("default", "multi")).toMatchObject({ phase: "Succeeded" });
    const lines = (i: number) =>
      readFileSync(path.join(dir, "default", "multi", `node-${i}.attempt-0.log`), "utf8")
        .trim()
        .split("\n")
        .sort();
    expect(lines(1)).toEqual([
      "[rank 2] WORLD_SIZE=4 RANK=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 GROUP_RANK=1",
      "[rank 3] WORLD_SIZE=4 RANK=3 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 GROUP_RANK=1",
    ]);
    expect(lines(0)[0]).toMatch(/^\[rank 0\] WORLD_SIZE=4 RANK=0 LOCAL_RANK=0/);
  });

  test("a failing rank ends the other ranks of its node and its exit code is the node's", async () => {
    const script = `process.env.LOCAL_RANK === "1" ? process.exit(3) : setInterval(() => {}, 1000)`;
    await runner.create(job("rankfail", script, { procsPerNode: 2 }), "default", "t");
    const end = await runner.untilFinished("default", "rankfail");
    expect(end.phase).toBe("Failed");
    expect(JSON.stringify(end.nodes)).toContain('"exitCode":3');
  });

  test("logs: the end of each node's file in the current attempt, or an earlier attempt's", async () => {
    const script = `console.log("a" + process.env.NODE_RANK); console.log("b" + process.env.NODE_RANK); process.exit(process.env.NODE_RANK === "0" && process.env.SLOUGHGPT_RESTART_COUNT === "0" ? 137 : 0)`;
    await runner.create(
      job("talk", script, { numNodes: 2, failurePolicy: { backoffSeconds: 0 } }),
      "default",
      "t",
    );
    await runner.untilFinished("default", "talk");
    const now = await runner.logs("default", "talk", { tailLines: 1 });
    expect(now.map((n) => [n.node, n.attempt, n.text])).toEqual([
      [0, 1, "b0\n"],
      [1, 1, "b1\n"],
    ]);
    expect(now[1]?.source).toBe(path.join(dir, "default", "talk", "node-1.attempt-1.log"));
    // Node 0 of the first attempt printed before its own exit (node 1 may have been ended before it did).
    const first = await runner.logs("default", "talk", { node: 0, tailLines: 10, attempt: 0 });
    expect(first.map((n) => n.text)).toEqual(["a0\nb0\n"]);
    expect((await runner.logs("default", "talk", { tailLines: 5, attempt: 7 }))[0]?.message).toBe(
      "no log file yet",
    );
    await expect(runner.logs("default", "nope", { tailLines: 5 })).rejects.toThrow("does not run here");
  });

  test("is Running as soon as every node's process has started, not when one ends", async () => {
    await runner.create(job("up", "setInterval(() => {}, 1000)", { numNodes: 2 }), "default", "t");
    for (let i = 0; (await runner.status("default", "up"))?.phase !== "Running"; i++) {
      expect(i).toBeLessThan(100);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await runner.status("default", "up"))?.nodes?.map((n) => n.phase)).toEqual([
      "Running",
      "Running",
    ]);
  });

  test("a process that ignores SIGTERM is killed after the grace period; delete waits for it", async () => {
    const stubborn = new LocalJobCluster({ logDir: dir, logger, killGraceMs: 300 });
    try {
      const script = `process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)`;
      await stubborn.create(job("stubborn", script), "default", "t");
      const log = path.join(dir, "default", "stubborn", "node-0.attempt-0.log");
      while (!(existsSync(log) && readFileSync(log, "utf8").includes("up"))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const started = Date.now();
      await stubborn.delete("default", "stubborn");
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      await stubborn.close();
    }
  });

  test("a node whose process exits while something it started holds its output still ends", async () => {
    // The shell exits 3 at once; the sleep it left in the background keeps stdout open.
    const wrapper = job("wrapper", "", { command: ["/bin/sh", "-c", "sleep 60 & echo $!; exit 3"] });
    await runner.create(wrapper, "default", "t");
    const end = await runner.untilFinished("default", "wrapper");
    expect(end.phase).toBe("Failed");
    expect(JSON.stringify(end.nodes)).toContain('"exitCode":3');
    const [log] = await runner.logs("default", "wrapper", { tailLines: 5 });
    const sleeper = Number(log?.text.trim());
    expect(sleeper).toBeGreaterThan(0);
    // The background sleep went with the shell, as a container's processes go with its main one.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(processState(sleeper)).toMatch(/^(gone|Z)$/);
  });

  test("a new job of the same name starts with empty logs", async () => {
    await runner.create(job("again", `console.log("first run")`), "default", "t");
    await runner.untilFinished("default", "again");
    await runner.delete("default", "again");
    await runner.create(job("again", `setInterval(() => {}, 1000)`), "default", "t");
    const [log] = await runner.logs("default", "again", { tailLines: 5 });
    expect(log?.text ?? "").not.toContain("first run");
  });

  test("a finished job is deleted after ttlSecondsAfterFinished", async () => {
    await runner.create(job("brief", "process.exit(0)", { ttlSecondsAfterFinished: 0 }), "default", "t");
    for (let i = 0; (await runner.status("default", "brief")) !== undefined; i++) {
      expect(i).toBeLessThan(250);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  test("publishes each phase and, on success with output.modelId, model.published", async () => {
    const published: Array<[string, unknown]> = [];
    const publishing = new LocalJobCluster({
      logDir: dir,
      logger,
      publish: (subject, payload) => void published.push([subject, payload]),
    });
    try {
      const output = { modelId: "trained", path: "/models/trained.gguf" };
      await publishing.create(job("out", "process.exit(0)", { output }), "ml", "t");
      await publishing.untilFinished("ml", "out");
    } finally {
      await publishing.close();
    }
    const subjects = published.map(([subject]) => subject);
    expect(subjects[0]).toBe("training.job.ml.out.admitted");
    expect(subjects.slice(-2)).toEqual(["training.job.ml.out.succeeded", "model.published"]);
    expect(published.at(-1)?.[1]).toMatchObject({
      modelId: "trained",
      path: "/models/trained.gguf",
      job: { namespace: "ml", name: "out" },
    });
  });

  test("a permanent exit code fails the job and reports it", async () => {
    await runner.create(job("bad", "process.exit(3)"), "default", "t");
    const end = await runner.untilFinished("default", "bad");
    expect(end.phase).toBe("Failed");
    expect(end.nodes?.[0]).toMatchObject({ exitCode: 3 });
    expect(end.conditions?.find((c) => c.type === "Failed")?.reason).toBe("PermanentExit");
  });

  test("suspend stops the processes; resume starts them again", async () => {
    await runner.create(job("long", 'console.log("started"); setInterval(() => {}, 1000)'), "default", "t");
    const log = path.join(dir, "default", "long", "node-0.attempt-0.log");
    const starts = () => (existsSync(log) ? (readFileSync(log, "utf8").match(/started/g) ?? []).length : 0);
    const until = async (check: () => boolean) => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await until(() => starts() === 1);
    await runner.setSuspend("default", "long", true);
    expect(await runner.status("default", "long")).toMatchObject({ phase: "Suspended", nodes: [] });
    await runner.setSuspend("default", "long", false);
    await until(() => starts() === 2);
    const phase = async () => (await runner.status("default", "long"))?.phase;
    for (let i = 0; (await phase()) !== "Running"; i++) {
      expect(i).toBeLessThan(100);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await runner.delete("default", "long");
    expect(await runner.status("default", "long")).toBeUndefined();
  });
});
