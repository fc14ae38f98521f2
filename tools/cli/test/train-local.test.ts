import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { type Io, run } from "../src/cli.js";

// `train submit --local`: the controller's local backend in the CLI's process, running real processes
// (node -e scripts standing in for trainers) without a gateway.
jest.setTimeout(30_000);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "cli-local-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function io(interrupt?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  const value: Io = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: {},
    stdin: async () => "",
    fetch: (() => {
      throw new Error("a local run makes no request");
    }) as unknown as typeof fetch,
    interrupt: interrupt && (() => interrupt),
  };
  return { io: value, out, err };
}

async function manifest(name: string, script: string, spec = "numNodes: 2"): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `apiVersion: sloughgpt.io/v1alpha1
kind: TrainingJob
metadata: {name: ${name}, namespace: ml}
spec:
  image: ignored-here
  command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(script)}]
  ${spec}
  failurePolicy: {backoffSeconds: 0}
`,
  );
  return file;
}

describe("sloughgpt train submit --local", () => {
  test("runs every rank here, prints the phases and exits 0 when the job succeeds", async () => {
    const file = await manifest(
      "ok",
      "console.log('rank ' + process.env.RANK + ' of ' + process.env.WORLD_SIZE); process.exit(process.env.SLOUGHGPT_RESTART_COUNT === '0' && process.env.RANK === '1' ? 137 : 0)",
    );
    const t = io();
    const logs = path.join(dir, "logs");
    expect(await run(["train", "submit", "-f", file, "--local", "--log-dir", logs], t.io)).toBe(0);
    const printed = t.out.join("");
    expect(printed).toContain(
      `Running ml/ok here: 2 nodes × 1 process; logs in ${path.join(logs, "ml", "ok")}`,
    );
    expect(printed).toMatch(/Restarting \(\w+\)/);
    expect(printed).toMatch(/restart 1: recreating all 2 nodes/);
    expect(printed).toMatch(/Succeeded/);
    expect(readFileSync(path.join(logs, "ml", "ok", "node-1.attempt-1.log"), "utf8")).toBe("rank 1 of 2\n");
  });

  test("a failing job exits 1 and shows the end of its nodes' logs", async () => {
    const file = await manifest("bad", "console.error('no data at /data'); process.exit(2)", "numNodes: 1");
    const t = io();
    expect(await run(["train", "submit", "-f", file, "--local", "--log-dir", dir], t.io)).toBe(1);
    expect(t.out.join("")).toMatch(/Failed \(PermanentExit\)/);
    expect(t.err).toContain("[node 0] no data at /data");
    expect(t.err.at(-1)).toBe("error: ml/bad failed");
  });

  test("an invalid manifest is exit 2 naming the field, before anything runs", async () => {
    const file = await manifest("neg", "process.exit(0)", "numNodes: 0");
    const t = io();
    expect(await run(["train", "submit", "-f", file, "--local", "--log-dir", dir], t.io)).toBe(2);
    expect(t.err.join("")).toMatch(/numNodes/);
    expect(existsSync(path.join(dir, "ml"))).toBe(false);
  });

  test("Ctrl-C ends the job's processes and exits 130", async () => {
    const file = await manifest("forever", "setInterval(() => {}, 1000)", "numNodes: 1");
    const stop = new AbortController();
    const t = io(stop.signal);
    const running = run(["train", "submit", "-f", file, "--local", "--log-dir", dir], t.io);
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop.abort();
    expect(await running).toBe(130);
    expect(t.err.join("")).toMatch(/stopped: its processes are ended/);
  });
});
