import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Io, run } from "./cli.js";

/** A gateway stand-in that records each request and answers with the given JSON. */
function recorder(answer: unknown) {
  const calls: { method: string; url: string; body?: unknown }[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({
      method: init.method ?? "GET",
      url,
      body: init.body ? JSON.parse(init.body as string) : undefined,
    });
    return new Response(JSON.stringify(answer), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

function io(fetchImpl: typeof fetch) {
  const out: string[] = [];
  const err: string[] = [];
  const value: Io = {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: { SLOUGHGPT_URL: "http://gw", SLOUGHGPT_API_KEY: "k" },
    stdin: async () => "",
    fetch: fetchImpl,
  };
  return { io: value, out, err };
}

const job = {
  namespace: "ml",
  name: "tiny",
  phase: "Queued",
  created: 1_700_000_000,
  status: {
    restarts: 1,
    conditions: [
      { type: "Queued", status: "True", reason: "InsufficientGpus", message: "needs 16 GPUs, 8 free" },
    ],
  },
};

describe("sloughgpt train", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "cli-train-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  test("submit sends the manifest file's text as is, YAML included", async () => {
    const file = path.join(dir, "job.yaml");
    const text =
      "apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata: {name: tiny}\nspec: {image: t}\n";
    await writeFile(file, text);
    const r = recorder(job);
    const t = io(r.fetchImpl);
    expect(await run(["train", "submit", "-f", file], t.io)).toBe(0);
    expect(r.calls).toEqual([{ method: "POST", url: "http://gw/v1/training/jobs", body: text }]);
    expect(t.out.join("")).toBe("Submitted ml/tiny (Queued)\n");
  });

  test.each([
    [["train", "get", "tiny", "-n", "ml"], "GET", "http://gw/v1/training/jobs/tiny?namespace=ml"],
    [["train", "cancel", "tiny"], "DELETE", "http://gw/v1/training/jobs/tiny"],
    [["train", "suspend", "tiny"], "POST", "http://gw/v1/training/jobs/tiny:suspend"],
    [
      ["train", "resume", "tiny", "--namespace", "ml"],
      "POST",
      "http://gw/v1/training/jobs/tiny:resume?namespace=ml",
    ],
    [["train", "list", "-n", "ml"], "GET", "http://gw/v1/training/jobs?namespace=ml"],
  ])("%j calls %s %s", async (argv, method, url) => {
    const r = recorder(argv[1] === "list" ? { data: [job] } : job);
    expect(await run(argv, io(r.fetchImpl).io)).toBe(0);
    expect(r.calls.map((c) => [c.method, c.url])).toEqual([[method, url]]);
  });

  test("logs asks for the node, tail and attempt given and prints one node's lines as they are", async () => {
    const r = recorder({ data: [{ node: 1, attempt: 2, source: "tiny-node-1", text: "step 9\nstep 10\n" }] });
    const t = io(r.fetchImpl);
    expect(
      await run(["train", "logs", "tiny", "-n", "ml", "--node", "1", "--tail", "2", "--attempt", "2"], t.io),
    ).toBe(0);
    expect(r.calls.map((c) => [c.method, c.url])).toEqual([
      ["GET", "http://gw/v1/training/jobs/tiny/logs?namespace=ml&node=1&tail=2&attempt=2"],
    ]);
    expect(t.out.join("")).toBe("step 9\nstep 10\n");
  });

  test("logs of several nodes marks each line with its node; a node without text says why", async () => {
    const r = recorder({
      data: [
        { node: 0, attempt: 0, source: "a", text: "ready\nstep 1\n" },
        { node: 1, attempt: 0, source: "b", text: "", message: "waits to start" },
      ],
    });
    const t = io(r.fetchImpl);
    expect(await run(["train", "logs", "tiny"], t.io)).toBe(0);
    expect(r.calls[0]?.url).toBe("http://gw/v1/training/jobs/tiny/logs");
    expect(t.out.join("")).toBe("[node 0] ready\n[node 0] step 1\n");
    expect(t.err).toEqual(["[node 1] waits to start"]);
  });

  test("get explains the phase with its condition", async () => {
    const t = io(recorder(job).fetchImpl);
    await run(["train", "get", "tiny"], t.io);
    expect(t.out.join("")).toBe("ml/tiny: Queued (InsufficientGpus) — needs 16 GPUs, 8 free\n");
  });

  test.each([
    [["train"], /submit, list, get, logs, cancel, suspend or resume/],
    [["train", "submit"], /needs -f/],
    [["train", "cancel"], /needs the job's name/],
    [["train", "logs"], /needs the job's name/],
    [["train", "logs", "tiny", "--tail", "0"], /--tail must be an integer ≥ 1/],
    [["train", "submit", "-f", "/nonexistent.yaml", "--log-dir", "x"], /cannot read/],
  ])("refuses %j with exit 2 before any request", async (argv, message) => {
    const r = recorder(job);
    const t = io(r.fetchImpl);
    expect(await run(argv, t.io)).toBe(2);
    expect(t.err.join("")).toMatch(message);
    expect(r.calls).toEqual([]);
  });
});
