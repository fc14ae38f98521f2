import { setTimeout as sleep } from "node:timers/promises";
import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { connectBus } from "@sloughgpt/bus";
import { type Db, openDatabase } from "@sloughgpt/db";
import { serving } from "@sloughgpt/proto";
import { callUnary, createLogger } from "@sloughgpt/runtime";
import { type Platform, startPlatform } from "@sloughgpt/testing";

let platform: Platform;
let db: Db;

const api = async <T>(path: string, json?: unknown): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${platform.gatewayUrl}${path}`, {
    method: json === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${platform.adminKey}`, "content-type": "application/json" },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: res.status, body: (await res.json()) as T };
};

interface Job {
  state: string;
  total: number;
  done: number;
  failed: number;
  errors: { document_id: string; error: string }[];
}

/** Polls a job until `until` holds; bounded by attempts, not by a timing assertion. */
async function waitJob(id: string, until: (j: Job) => boolean, attempts = 600): Promise<Job> {
  for (let i = 0; i < attempts; i++) {
    const { status, body } = await api<Job>(`/v1/rag/jobs/${id}`);
    if (status === 200 && until(body)) return body;
    await sleep(200);
  }
  throw new Error(`job ${id} never reached the expected state`);
}

const docs = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    text: `Document ${i} about ${i % 2 ? "supersonic" : "laminar"} flow, boundary layers and wing ${i}.`,
    metadata: { n: i },
  }));

beforeAll(async () => {
  platform = await startPlatform();
  const rag = platform.plan.find((s) => s.name === "rag");
  db = await openDatabase({ url: rag?.env.DATABASE_URL, maxConnections: 1 });
}, 120_000);

afterAll(async () => {
  await db?.close();
  await platform?.stop();
}, 60_000);

describe("durable ingestion", () => {
  test("a job id comes back at once; after rag is killed mid-job and restarted, every document is there exactly once", async () => {
    expect((await api("/v1/rag/collections", { name: "crash" })).status).toBe(201);
    const total = 120;
    const submitted = await api<{ job_id: string }>("/v1/rag/collections/crash/documents", {
      documents: docs(total, "d"),
      async: true,
    });
    expect(submitted.status).toBe(202);
    const id = submitted.body.job_id;
    const before = await waitJob(id, (j) => j.done >= 5);
    expect(before.done).toBeLessThan(total);

    const pid = platform.supervisor.pid("rag");
    expect(pid).toBeDefined();
    const exited = platform.supervisor.exited("rag");
    process.kill(pid as number, "SIGKILL");
    await exited;
    const spec = platform.plan.find((s) => s.name === "rag");
    if (!spec) throw new Error("no rag in the plan");
    platform.supervisor.start(spec);
    await platform.supervisor.waitReady("rag", 90_000);

    const after = await waitJob(id, (j) => j.state !== "running");
    expect(after).toMatchObject({ state: "succeeded", total, done: total, failed: 0 });
    const { rows } = await db.query<{ documents: number; chunks: number; stored_chunks: number }>(
      `SELECT (SELECT count(*) FROM rag.documents WHERE collection = 'crash')::int AS documents,
              (SELECT count(*) FROM rag.chunks WHERE collection = 'crash')::int AS chunks,
              (SELECT chunk_count FROM rag.collections WHERE name = 'crash')::int AS stored_chunks`,
    );
    // One chunk per (short) document, and the BM25 statistics counted each exactly once.
    expect(rows[0]).toEqual({ documents: total, chunks: total, stored_chunks: total });
    const df = await db.query<{ bad: number }>(
      `SELECT count(*)::int AS bad FROM rag.terms t
         JOIN rag.collections c ON c.id = t.collection_id AND c.name = 'crash'
        WHERE t.df <> (SELECT count(*) FROM rag.postings p WHERE p.collection_id = t.collection_id AND p.term = t.term)`,
    );
    expect(df.rows[0]?.bad).toBe(0);
    const search = await api<{ results: { document_id: string }[] }>("/v1/rag/collections/crash/search", {
      query: "supersonic wing 7",
      top_k: 3,
      mode: "lexical",
    });
    expect(search.body.results[0]?.document_id).toBe("d7");
  }, 300_000);

  test("a document that can never be ingested is dead-lettered with its error and fails its job", async () => {
    expect(
      (await api("/v1/rag/collections", { name: "poison", embedding_model: "no-such-model" })).status,
    ).toBe(201);
    const submitted = await api<{ job_id: string }>("/v1/rag/collections/poison/documents", {
      documents: docs(2, "p"),
      async: true,
    });
    const job = await waitJob(submitted.body.job_id, (j) => j.state !== "running");
    expect(job).toMatchObject({ state: "failed", done: 0, failed: 2 });
    expect(job.errors.map((e) => e.document_id)).toEqual(["p0", "p1"]);
    expect(job.errors[0]?.error).toMatch(/no-such-model/);

    const bus = await connectBus({
      url: platform.natsUrl,
      namespace: platform.namespace,
      name: "rag-test",
      logger: createLogger({ service: "rag-test", level: "silent" }),
    });
    try {
      const msg = await bus.jsm.streams.getMessage(bus.stream("RAG"), {
        last_by_subj: bus.subject("rag.ingest.dead"),
      });
      expect(msg?.json()).toMatchObject({ jobId: submitted.body.job_id, collection: "poison" });
    } finally {
      await bus.close();
    }
  }, 120_000);

  test("an unknown job is not found", async () => {
    const { status } = await api("/v1/rag/jobs/job_00000000-0000-0000-0000-000000000000");
    expect(status).toBe(404);
  });
});

describe("search, delete and answer through the gateway", () => {
  beforeAll(async () => {
    expect((await api("/v1/rag/collections", { name: "api" })).status).toBe(201);
    const up = await api<{ documents_changed: number }>("/v1/rag/collections/api/documents", {
      documents: [
        {
          id: "a",
          text: "Shock waves form ahead of a blunt body in supersonic flow.",
          metadata: { lab: "x" },
        },
        {
          id: "b",
          text: "Laminar boundary layers separate under adverse pressure gradients.",
          metadata: { lab: "y" },
        },
        { id: "c", text: "Shock and boundary layer interaction thickens the layer.", metadata: { lab: "y" } },
      ],
    });
    expect(up.body.documents_changed).toBe(3);
  }, 60_000);

  test("every mode answers with the documented result shape; the filter holds", async () => {
    for (const mode of ["lexical", "dense", "hybrid"]) {
      const res = await api<{
        results: { document_id: string; chunk_id: string; metadata: { lab: string } }[];
      }>("/v1/rag/collections/api/search", { query: "shock", top_k: 2, mode, filter: { lab: "y" } });
      expect(res.status).toBe(200);
      expect(res.body.results.map((r) => r.metadata.lab)).toEqual(mode === "lexical" ? ["y"] : ["y", "y"]);
      expect(res.body.results[0]?.chunk_id).toMatch(/^[abc]#0$/);
    }
    const bad = await api<{ error: { param: string } }>("/v1/rag/collections/api/search", {
      query: "shock",
      filter: { lab: { $gt: 1 } },
    });
    expect(bad.status).toBe(400);
  });

  test("an answer cites only retrieved passages", async () => {
    const res = await api<{
      answer: string;
      citations: { n: number; chunk_id: string }[];
      invalid_citations: number[];
      passages: { n: number; chunk_id: string }[];
    }>("/v1/rag/collections/api/answer", {
      question: "What shock forms ahead of a blunt body?",
      top_k: 2,
      max_tokens: 48,
    });
    expect(res.status).toBe(200);
    expect(res.body.passages.map((p) => p.n)).toEqual([1, 2]);
    expect(res.body.passages[0]?.chunk_id).toBe("a#0");
    for (const c of res.body.citations) expect(res.body.passages[c.n - 1]?.chunk_id).toBe(c.chunk_id);
    for (const m of res.body.answer.matchAll(/\[(\d+)\]/g)) expect([1, 2]).toContain(Number(m[1]));
  }, 120_000);

  test("a streamed answer: the passages first, then the text, then citations and usage", async () => {
    const sse = async (collection: string) => {
      const res = await fetch(`${platform.gatewayUrl}/v1/rag/collections/${collection}/answer`, {
        method: "POST",
        headers: { authorization: `Bearer ${platform.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({
          question: "What shock forms ahead of a blunt body?",
          top_k: 2,
          max_tokens: 24,
          stream: true,
        }),
      });
      return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
    };
    const missing = await sse("nope");
    expect(missing.status).toBe(404);
    const res = await sse("api");
    expect([res.status, res.type]).toEqual([200, "text/event-stream; charset=utf-8"]);
    const data = res.text
      .split("\n\n")
      .filter((block) => block.startsWith("data: "))
      .map((block) => block.slice("data: ".length));
    expect(data.at(-1)).toBe("[DONE]");
    const events = data.slice(0, -1).map((d) => JSON.parse(d) as Record<string, unknown>);
    const objects = events.map((e) => e.object);
    expect(objects[0]).toBe("rag.answer.passages");
    expect(objects.at(-1)).toBe("rag.answer.done");
    expect(objects.slice(1, -1).every((o) => o === "rag.answer.delta")).toBe(true);
    const passages = events[0]?.passages as { n: number; chunk_id: string }[];
    expect(passages.map((p) => p.n)).toEqual([1, 2]);
    expect(passages[0]?.chunk_id).toBe("a#0");
    const text = events
      .slice(1, -1)
      .map((e) => e.delta)
      .join("");
    const done = events.at(-1) as {
      citations: { n: number; chunk_id: string }[];
      usage: { completion_tokens: number };
    };
    expect(done.usage.completion_tokens).toBeGreaterThan(0);
    expect(text.length).toBeGreaterThan(0);
    for (const m of text.matchAll(/\[(\d+)\]/g)) expect([1, 2]).toContain(Number(m[1]));
    for (const c of done.citations) expect(passages[c.n - 1]?.chunk_id).toBe(c.chunk_id);
  }, 120_000);

  test("searches count against the caller's requests per minute", async () => {
    const issued = await api<{ key: string }>("/v1/admin/keys", {
      name: "searcher",
      team: "default",
      role: "consumer",
      rpm: 2,
    });
    expect(issued.status).toBe(201);
    const search = () =>
      fetch(`${platform.gatewayUrl}/v1/rag/collections/api/search`, {
        method: "POST",
        headers: { authorization: `Bearer ${issued.body.key}`, "content-type": "application/json" },
        body: JSON.stringify({ query: "shock", mode: "lexical" }),
      });
    // Limits count per minute: the burst must not straddle two.
    const into = Date.now() % 60_000;
    if (into > 55_000) await sleep(60_000 - into + 250);
    const statuses = (await Promise.all([search(), search(), search()])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
  });

  test("a Qdrant collection is refused when rag has no Qdrant", async () => {
    const res = await api<{ error: { code: string } }>("/v1/rag/collections", { name: "q", store: "qdrant" });
    expect([res.status, res.body.error.code]).toEqual([400, "qdrant_not_configured"]);
    expect((await api<{ store: string }>("/v1/rag/collections/api")).body.store).toBe("postgres");
  });

  test("delete by filter, then by id", async () => {
    const byFilter = await api("/v1/rag/collections/api/documents/delete", { filter: { lab: "y" } });
    expect(byFilter.body).toEqual({ documents_deleted: 2, chunks_deleted: 2 });
    const byId = await api("/v1/rag/collections/api/documents/delete", { ids: ["a", "zz"] });
    expect(byId.body).toEqual({ documents_deleted: 1, chunks_deleted: 1 });
    const left = await api<{ results: unknown[] }>("/v1/rag/collections/api/search", {
      query: "shock layer",
    });
    expect(left.body.results).toEqual([]);
  });
});

describe("chunks counted in the embedding model's tokens", () => {
  const words = ["shock", "wave", "boundary", "layer", "supersonic", "laminar", "separation", "pressure"];
  const text = Array.from({ length: 400 }, (_, i) => `${words[i % 8]}${i % 7 ? "" : "."}`).join(" ");

  test("chunk_size counts tokens: every chunk holds at most that many, and more text fits than in characters", async () => {
    const created = await api<{ chunk_unit: string; chunk_size: number }>("/v1/rag/collections", {
      name: "tok",
      chunk_unit: "tokens",
      chunk_size: 64,
      chunk_overlap: 8,
    });
    expect(created).toMatchObject({ status: 201, body: { chunk_unit: "tokens", chunk_size: 64 } });
    expect((await api<{ chunk_unit: string }>("/v1/rag/collections/tok")).body.chunk_unit).toBe("tokens");
    expect(
      (await api("/v1/rag/collections", { name: "chars", chunk_size: 64, chunk_overlap: 8 })).status,
    ).toBe(201);
    for (const name of ["tok", "chars"]) {
      const up = await api<{ documents_changed: number }>(`/v1/rag/collections/${name}/documents`, {
        documents: [{ id: "long", text }],
      });
      expect(up.body.documents_changed).toBe(1);
    }
    const chunks = async (collection: string) =>
      (
        await db.query<{ text: string }>(
          "SELECT text FROM rag.chunks WHERE collection = $1 AND document_id = 'long' ORDER BY idx",
          [collection],
        )
      ).rows.map((r) => r.text);
    const byTokens = await chunks("tok");
    const byChars = await chunks("chars");
    expect(byTokens.length).toBeGreaterThan(1);
    expect(byTokens.length).toBeLessThan(byChars.length);

    const client = new serving.ServingServiceClient(
      `127.0.0.1:${platform.ports.grpc.serving}`,
      credentials.createInsecure(),
    );
    try {
      const count = async (texts: string[]) =>
        (await callUnary(client.tokenize.bind(client), { model: platform.modelId, input: texts })).tokens.map(
          (t) => t.starts.length,
        );
      const [whole = 0] = await count([text]);
      // At most 64 tokens each (a chunk tokenized alone may gain the word-start marker of its first word).
      for (const n of await count(byTokens)) expect(n).toBeLessThanOrEqual(65);
      expect(byTokens.length).toBeGreaterThanOrEqual(Math.ceil(whole / 64));
    } finally {
      client.close();
    }
  }, 120_000);

  test("tokens need a model that can count them: 400 naming chunk_unit, 404 naming embedding_model", async () => {
    const res = await api<{ error: { param: string } }>("/v1/rag/collections", {
      name: "tok-lexical",
      chunk_unit: "tokens",
      embedding_model: "",
    });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("chunk_unit");
    const unknown = await api<{ error: { param: string } }>("/v1/rag/collections", {
      name: "tok-unknown",
      chunk_unit: "tokens",
      embedding_model: "no-such-model",
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.param).toBe("embedding_model");
  });
});
