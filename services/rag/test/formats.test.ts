import { setTimeout as sleep } from "node:timers/promises";
import { credentials, Server, ServerCredentials, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type Bus, connectBus } from "@sloughgpt/bus";
import type { Db } from "@sloughgpt/db";
import { rag } from "@sloughgpt/proto";
import { callUnary, createLogger, createMetrics } from "@sloughgpt/runtime";
import { DEFAULT_NATS_URL, deleteNamespace, testNamespace } from "@sloughgpt/testing";
import type { ChatModel } from "../src/answer/answer.js";
import { JobStore } from "../src/ingest/jobs.js";
import { enqueueDocuments, ensureIngestStream, runIngestWorker } from "../src/ingest/queue.js";
import { minimalPdf } from "../src/parse/minimal-pdf.js";
import { Retriever } from "../src/retrieval/retriever.js";
import { ragHandlers } from "../src/server.js";
import { openRagStore } from "../src/store/open.js";

// Documents in each format through rag's gRPC API (a real server on loopback, PGlite, the NATS
// server on 127.0.0.1:4222 for jobs): what comes back from search and answers is page and heading.

const logger = createLogger({ service: "rag-formats-test", level: "silent" });
const namespace = testNamespace();
const team = "t1";
const stop = new AbortController();
let db: Db;
let bus: Bus;
let server: Server;
let client: rag.RagServiceClient;
let working: Promise<void>;

/** Answers with a citation of the first passage. */
const chat: ChatModel = {
  chat: async () => ({ text: "It grew in the south [1].", promptTokens: 10, completionTokens: 6 }),
  chatStream: async function* () {
    yield { delta: "unused" };
  },
} as unknown as ChatModel;

const HTML = `<html><head><style>.x{}</style></head><body>
  <nav><a href="/">Home</a> Pricing Blog</nav>
  <h1>Handbook</h1><p>Welcome to the company handbook.</p>
  <h2>Travel policy</h2><p>Flights over six hours may be booked in premium economy.</p>
  <script>trackVisitor("premium economy")</script></body></html>`;
const MARKDOWN =
  "# Runbook\n\nGeneral notes for whoever is on call during the night.\n\n## Restarting the ingest worker\n\nDrain the queue, then restart.";
const PDF = minimalPdf([
  ["Annual report.", "Revenue grew in the north region."],
  ["Revenue fell in the south region."],
]);

const doc = (id: string, format: rag.DocumentFormat, source: string | Uint8Array): rag.Document => ({
  id,
  metadataJson: JSON.stringify({ source: id }),
  format,
  text: typeof source === "string" ? source : "",
  content: typeof source === "string" ? Buffer.alloc(0) : Buffer.from(source),
});

const upsert = (documents: rag.Document[]) =>
  callUnary(client.upsert.bind(client), { collection: "docs", team, documents });
const search = (query: string) =>
  callUnary(client.search.bind(client), {
    collection: "docs",
    team,
    query,
    topK: 3,
    mode: rag.SearchMode.SEARCH_MODE_LEXICAL,
    filterJson: "",
  });

beforeAll(async () => {
  const opened = await openRagStore();
  db = opened.db;
  const store = opened.store;
  bus = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "rag-formats-test", logger });
  await ensureIngestStream(bus);
  const jobs = new JobStore(db);
  working = runIngestWorker({ bus, store, jobs, logger, signal: stop.signal, maxDeliver: 2 });
  server = new Server();
  server.addService(
    rag.RagServiceService,
    ragHandlers({
      qdrantConfigured: false,
      store,
      jobs,
      enqueue: (job, docs) => enqueueDocuments(bus, job, docs),
      retriever: new Retriever({ lexical: store, expansion: false, proximity: false }),
      chat,
      defaults: { chunkSize: 80, chunkOverlap: 0, embeddingModel: "", answerModel: "m" },
      logger,
      metrics: createMetrics("rag"),
    }),
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  client = new rag.RagServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  await callUnary(client.createCollection.bind(client), { name: "docs", team, embeddingModel: "" });
}, 60_000);

afterAll(async () => {
  client?.close();
  server?.forceShutdown();
  stop.abort();
  await working?.catch(() => undefined);
  await bus?.close();
  await deleteNamespace(DEFAULT_NATS_URL, namespace);
  await db?.close();
}, 30_000);

describe("document formats through the rag service", () => {
  test("HTML, markdown and PDF documents are searchable, with their chunks' heading and page", async () => {
    const res = await upsert([
      doc("handbook.html", rag.DocumentFormat.DOCUMENT_FORMAT_HTML, HTML),
      doc("runbook.md", rag.DocumentFormat.DOCUMENT_FORMAT_MARKDOWN, MARKDOWN),
      doc("report.pdf", rag.DocumentFormat.DOCUMENT_FORMAT_PDF, PDF),
      doc("plain.txt", rag.DocumentFormat.DOCUMENT_FORMAT_UNSPECIFIED, "Plain notes about the south wing."),
    ]);
    expect(res.documents).toBe(4);

    const travel = (await search("premium economy flights")).results;
    expect(travel[0]).toMatchObject({ documentId: "handbook.html", heading: "Travel policy" });
    expect(travel[0]?.page).toBeUndefined();
    // Stored positions stay out of the metadata callers see; script and nav never became text.
    expect(JSON.parse(travel[0]?.metadataJson ?? "")).toEqual({ source: "handbook.html" });
    expect((await search("trackVisitor pricing blog")).results).toEqual([]);

    const restart = (await search("restart ingest worker")).results;
    expect(restart[0]).toMatchObject({ documentId: "runbook.md", heading: "Restarting the ingest worker" });

    const south = (await search("revenue fell south region")).results;
    expect(south[0]).toMatchObject({ documentId: "report.pdf", page: 2 });
    expect(south[0]?.text).toContain("Revenue fell in the south region.");
    const north = (await search("annual report north")).results;
    expect(north[0]).toMatchObject({ documentId: "report.pdf", page: 1 });

    const plain = (await search("plain notes")).results;
    expect(plain[0]).toMatchObject({ documentId: "plain.txt" });
    expect(plain[0]?.page).toBeUndefined();
    expect(plain[0]?.heading).toBeUndefined();
  });

  test("an answer's citations carry the cited chunk's page", async () => {
    const a = await callUnary(client.answer.bind(client), {
      collection: "docs",
      team,
      question: "Where did revenue fall?",
      topK: 1,
      model: "",
      maxTokens: 32,
      mode: rag.SearchMode.SEARCH_MODE_LEXICAL,
      filterJson: "",
      keyId: "k",
      requestId: "r",
    });
    expect(a.citations).toEqual([{ number: 1, documentId: "report.pdf", chunkId: "report.pdf#1", page: 2 }]);
  });

  test("unchanged documents are skipped; a format change alone is a change", async () => {
    const again = await upsert([
      doc("handbook.html", rag.DocumentFormat.DOCUMENT_FORMAT_HTML, HTML),
      doc("report.pdf", rag.DocumentFormat.DOCUMENT_FORMAT_PDF, PDF),
    ]);
    expect(again.documents).toBe(0);
    const asText = await upsert([doc("runbook.md", rag.DocumentFormat.DOCUMENT_FORMAT_TEXT, MARKDOWN)]);
    expect(asText.documents).toBe(1);
    const hit = (await search("restart ingest worker")).results[0];
    expect(hit?.heading).toBeUndefined();
    expect(hit?.text).toContain("## Restarting");
  });

  test("a PDF that does not parse fails its request with INVALID_ARGUMENT naming it; nothing is written", async () => {
    const bad = new TextEncoder().encode("%PDF-1.7\nnot a real pdf");
    const err = (await upsert([
      doc("ok.md", rag.DocumentFormat.DOCUMENT_FORMAT_MARKDOWN, "# Fine\n\nzebra crossing"),
      doc("broken.pdf", rag.DocumentFormat.DOCUMENT_FORMAT_PDF, bad),
    ]).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.message).toMatch(/document 'broken.pdf': the PDF could not be read/);
    expect((await search("zebra crossing")).results).toEqual([]);
  });

  test("a malformed request names the document's field", async () => {
    const cases: [rag.Document, RegExp][] = [
      [{ ...doc("x", rag.DocumentFormat.DOCUMENT_FORMAT_PDF, ""), text: "" }, /PDF document needs content/],
      [
        { ...doc("x", rag.DocumentFormat.DOCUMENT_FORMAT_HTML, "<p>x</p>"), content: Buffer.from("x") },
        /has text, not content/,
      ],
      [doc("x", 42 as rag.DocumentFormat, "x"), /Invalid option|format/],
      [
        { ...doc("x", rag.DocumentFormat.DOCUMENT_FORMAT_TEXT, "x"), metadataJson: '{"$positions":[]}' },
        /reserved/,
      ],
    ];
    for (const [d, message] of cases) {
      const err = (await upsert([d]).catch((e: unknown) => e)) as ServiceError;
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.message).toMatch(message);
    }
  });

  test("an ingest job: a PDF goes through the queue intact; an unreadable one is that document's error", async () => {
    const submitted = await callUnary(client.submitIngestJob.bind(client), {
      collection: "docs",
      team,
      documents: [
        doc(
          "queued.pdf",
          rag.DocumentFormat.DOCUMENT_FORMAT_PDF,
          minimalPdf([
            ["An introduction that fills the first page,", "and a second line of it."],
            ["Glacier melt rates, measured."],
          ]),
        ),
        doc("junk.pdf", rag.DocumentFormat.DOCUMENT_FORMAT_PDF, new TextEncoder().encode("%PDF-1.4 junk")),
      ],
    });
    let job: rag.GetIngestJobResponse | undefined;
    for (let i = 0; i < 150 && job?.state !== "failed" && job?.state !== "succeeded"; i++) {
      job = await callUnary(client.getIngestJob.bind(client), { id: submitted.jobId, team });
      await sleep(100);
    }
    expect(job).toMatchObject({ state: "failed", total: 2, done: 1, failed: 1 });
    expect(job?.errors).toEqual([
      { documentId: "junk.pdf", error: expect.stringMatching(/the PDF could not be read/) },
    ]);
    expect((await search("glacier melt")).results[0]).toMatchObject({ documentId: "queued.pdf", page: 2 });
  }, 30_000);

  test("an ingest job: a small PDF whose text expands past 5,000,000 characters is that document's error", async () => {
    // 11 pages of 500 lines of 1,000 characters, deflated: about 10 kB.
    const line = "x".repeat(1000);
    const bomb = minimalPdf(
      Array.from({ length: 11 }, () => Array.from({ length: 500 }, () => line)),
      { compress: true, fontSize: 1 },
    );
    const submitted = await callUnary(client.submitIngestJob.bind(client), {
      collection: "docs",
      team,
      documents: [
        doc("bomb.pdf", rag.DocumentFormat.DOCUMENT_FORMAT_PDF, bomb),
        doc("small.md", rag.DocumentFormat.DOCUMENT_FORMAT_MARKDOWN, "# Small\n\nSnow leopard sightings."),
      ],
    });
    let job: rag.GetIngestJobResponse | undefined;
    for (let i = 0; i < 600 && job?.state !== "failed" && job?.state !== "succeeded"; i++) {
      job = await callUnary(client.getIngestJob.bind(client), { id: submitted.jobId, team });
      await sleep(100);
    }
    expect(job).toMatchObject({ state: "failed", total: 2, done: 1, failed: 1 });
    expect(job?.errors).toEqual([
      { documentId: "bomb.pdf", error: "document 'bomb.pdf': its text is over 5000000 characters" },
    ]);
    expect((await search("snow leopard")).results[0]).toMatchObject({ documentId: "small.md" });
  }, 90_000);
});
