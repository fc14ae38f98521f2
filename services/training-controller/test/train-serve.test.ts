import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { type Platform, REPO_ROOT, startPlatform } from "@sloughgpt/testing";

// The train → serve loop on one machine: the whole platform with BACKEND=local; a 2-rank job of the
// reference trainer (PyTorch CPU, gloo) submitted through the gateway exits 137 on both ranks once step
// 100 is checkpointed, the controller restarts the gang, the ranks resume from that checkpoint and finish;
// rank 0 exports the GGUF, the controller publishes model.published, serving loads it and the model
// answers a chat completion through the gateway. Needs /usr/bin/python3 with torch (python3-torch).
jest.setTimeout(300_000);

const JOB = "fables";
const MODEL = "fables-byte";

let platform: Platform;
let dir: string;

async function api(route: string, init: { method?: string; body?: unknown } = {}) {
  const res = await fetch(`${platform.gatewayUrl}${route}`, {
    method: init.method ?? "GET",
    headers: {
      authorization: `Bearer ${platform.adminKey}`,
      ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function until<T>(what: string, read: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The JSON lines a rank's trainer printed in one attempt. */
function trainerEvents(node: number, attempt: number): Array<Record<string, unknown>> {
  const dataDir = platform.plan.find((s) => s.name === "training-controller")?.env.DATA_DIR ?? "";
  const file = path.join(dataDir, "training", "logs", "default", JOB, `node-${node}.attempt-${attempt}.log`);
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "train-serve-"));
  platform = await startPlatform({ postgresAdminUrl: null, extraEnv: { BACKEND: "local" } });
});

afterAll(async () => {
  await platform?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("train → serve", () => {
  test("a 2-rank job survives a crash, resumes from its checkpoint, and its model is served", async () => {
    const gguf = path.join(dir, "model.gguf");
    const created = await api("/v1/training/jobs", {
      method: "POST",
      body: {
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name: JOB },
        spec: {
          image: "local",
          command: [
            "/usr/bin/python3",
            path.join(REPO_ROOT, "services/training-controller/trainer/train.py"),
          ],
          args: ["--steps=200", "--checkpoint-every=50", "--exit-at-step=100", `--gguf=${gguf}`],
          numNodes: 2,
          checkpointDir: path.join(dir, "checkpoints"),
          failurePolicy: { maxRestarts: 2, backoffSeconds: 0 },
          output: { modelId: MODEL, path: gguf },
        },
      },
    });
    expect(created.status).toBe(201);

    const job = await until(
      "the job to finish",
      async () => {
        const { body } = await api(`/v1/training/jobs/${JOB}`);
        return body.phase === "Succeeded" || body.phase === "Failed" ? body : undefined;
      },
      240_000,
    );
    expect(job).toMatchObject({ phase: "Succeeded", status: { restarts: 1 } });

    // Rank 0 stopped at step 100 with a signal-style exit (rank 1 too, unless the gang restart's SIGTERM
    // got there first); the second attempt of both resumed from there.
    expect(trainerEvents(0, 0).find((e) => e.event === "exiting")).toMatchObject({ step: 100 });
    for (const node of [0, 1]) {
      const resumed = trainerEvents(node, 1).find((e) => e.event === "started");
      expect(resumed).toMatchObject({ attempt: 1, step: 100 });
      expect(String(resumed?.resumed_from)).toMatch(/ckpt-00000100\.pt$/);
    }
    const finished = trainerEvents(0, 1).find((e) => e.event === "finished");
    expect(finished).toMatchObject({ step: 200 });
    expect(Number(finished?.final_eval_loss)).toBeLessThan(Number(finished?.initial_eval_loss));
    // The same lines through the gateway's logs route: the current attempt by default, or the first.
    const logs = await api(`/v1/training/jobs/${JOB}/logs?node=0&tail=3`);
    expect(logs.status).toBe(200);
    const [latest] = logs.body.data as Array<{ node: number; attempt: number; text: string }>;
    expect(latest).toMatchObject({ node: 0, attempt: 1 });
    expect(latest?.text.trim().split("\n")).toHaveLength(3);
    expect(latest?.text).toContain('"event": "done"');
    const first = await api(`/v1/training/jobs/${JOB}/logs?attempt=0`);
    expect((first.body.data as Array<{ text: string }>).map((n) => n.text.includes('"exiting"'))).toContain(
      true,
    );
    process.stdout.write(
      `held-out loss ${finished?.initial_eval_loss} at step 0, ${finished?.final_eval_loss} at step 200\n`,
    );

    await until(
      "serving to list the model",
      async () => {
        const { body } = await api("/v1/models");
        const ids = (body.data as Array<{ id: string }>).map((m) => m.id);
        return ids.includes(MODEL) ? ids : undefined;
      },
      60_000,
    );
    const chat = await api("/v1/chat/completions", {
      method: "POST",
      body: {
        model: MODEL,
        messages: [{ role: "user", content: "Tell me about the miller." }],
        max_tokens: 24,
      },
    });
    expect(chat.status).toBe(200);
    const choice = (chat.body.choices as Array<{ message: { content: string } }>)[0];
    expect(choice?.message.content.length).toBeGreaterThan(0);
    expect(Number((chat.body.usage as { completion_tokens: number }).completion_tokens)).toBeGreaterThan(0);
  });
});
