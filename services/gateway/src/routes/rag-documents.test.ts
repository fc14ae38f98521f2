import { rag as ragProto } from "@sloughgpt/proto";
import type { Upstreams } from "../clients.js";
import { TEST_KEY, testApp } from "../test-app.js";
import { documentsBody, looksLikePdf, MAX_PDF_BYTES, toProtoDocuments } from "./rag-documents.js";

const PDF_B64 = Buffer.from("%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n").toString("base64");

describe("RAG document bodies", () => {
  it("defaults to text; markdown and html come as text, pdf as base64 content", () => {
    const body = documentsBody.parse({
      documents: [
        { id: "a", text: "plain" },
        { id: "b", format: "markdown", text: "# T" },
        { id: "c", format: "html", text: "<p>x</p>", metadata: { k: 1 } },
        { id: "d", format: "pdf", content: PDF_B64 },
      ],
    });
    const docs = toProtoDocuments(body);
    expect(docs.map((d) => d.format)).toEqual([
      ragProto.DocumentFormat.DOCUMENT_FORMAT_TEXT,
      ragProto.DocumentFormat.DOCUMENT_FORMAT_MARKDOWN,
      ragProto.DocumentFormat.DOCUMENT_FORMAT_HTML,
      ragProto.DocumentFormat.DOCUMENT_FORMAT_PDF,
    ]);
    expect(docs[2]).toMatchObject({ text: "<p>x</p>", metadataJson: '{"k":1}' });
    expect(docs[2]?.content.length).toBe(0);
    expect(docs[3]?.text).toBe("");
    expect(docs[3]?.content.subarray(0, 5).toString("latin1")).toBe("%PDF-");
  });

  it.each([
    ["an unknown format", { id: "a", format: "docx", text: "x" }, "documents.0.format", /Invalid option/],
    ["bad base64", { id: "a", format: "pdf", content: "not base64!" }, "documents.0.content", /base64/i],
    [
      "bytes that are not a PDF",
      { id: "a", format: "pdf", content: Buffer.from("hello").toString("base64") },
      "documents.0.content",
      /not a PDF/,
    ],
    ["a PDF without content", { id: "a", format: "pdf" }, "documents.0.content", /needs content/],
    [
      "a PDF with text",
      { id: "a", format: "pdf", content: PDF_B64, text: "x" },
      "documents.0.text",
      /not text/,
    ],
    ["HTML without text", { id: "a", format: "html" }, "documents.0.text", /needs text/],
    [
      "text with content",
      { id: "a", text: "x", content: PDF_B64 },
      "documents.0.content",
      /content is for pdf/,
    ],
    ["text over the limit", { id: "a", text: "x".repeat(5_000_001) }, "documents.0.text", /too big|at most/i],
  ])("refuses %s", (_name, doc, path, message) => {
    const r = documentsBody.safeParse({ documents: [doc] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path.join(".")).toBe(path);
    expect(r.error?.issues[0]?.message).toMatch(message);
  });

  it("caps a PDF at MAX_PDF_BYTES, as base64", () => {
    const over = Buffer.alloc(MAX_PDF_BYTES + 3, 32);
    over.write("%PDF-1.4");
    const r = documentsBody.safeParse({
      documents: [{ id: "a", format: "pdf", content: over.toString("base64") }],
    });
    expect(r.error?.issues[0]?.path.join(".")).toBe("documents.0.content");
  });

  it("finds a PDF header within the first KiB only", () => {
    expect(looksLikePdf(PDF_B64)).toBe(true);
    expect(looksLikePdf(Buffer.from(`${" ".repeat(1000)}%PDF-1.7`).toString("base64"))).toBe(true);
    expect(looksLikePdf(Buffer.from(`${" ".repeat(1100)}%PDF-1.7`).toString("base64"))).toBe(false);
  });
});

/** A rag upstream that records the upsert it gets and answers searches with positions. */
function fakeRag() {
  const seen: ragProto.UpsertRequest[] = [];
  const reply =
    <Req, Res>(fn: (req: Req) => Res) =>
    (req: Req, _md: unknown, _opts: unknown, cb: (err: null, res: Res) => void) => {
      setImmediate(() => cb(null, fn(req)));
      return { cancel() {} };
    };
  const rag = {
    upsert: reply((req: ragProto.UpsertRequest) => {
      seen.push(req);
      return { documents: req.documents.length, chunks: 2 };
    }),
    search: reply(() => ({
      results: [
        { documentId: "r.pdf", chunkId: "r.pdf#1", score: 1, text: "t", metadataJson: "{}", page: 2 },
        {
          documentId: "h.html",
          chunkId: "h.html#0",
          score: 0.5,
          text: "u",
          metadataJson: "{}",
          heading: "Travel",
        },
      ],
    })),
  };
  return { seen, upstreams: { rag } as unknown as Upstreams };
}

async function post(upstreams: Upstreams, url: string, body: unknown) {
  const app = testApp({ upstreams, bodyLimit: 1024 * 1024 });
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    const res = await fetch(`${base}${url}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } finally {
    await app.close();
  }
}

describe("RAG document routes", () => {
  it("sends a PDF's bytes to rag and answers with what it wrote", async () => {
    const { seen, upstreams } = fakeRag();
    const res = await post(upstreams, "/v1/rag/collections/docs/documents", {
      documents: [{ id: "r.pdf", format: "pdf", content: PDF_B64, metadata: { year: 2026 } }],
    });
    expect(res).toEqual({ status: 200, body: { documents_changed: 1, chunks_written: 2 } });
    expect(seen[0]?.documents[0]?.content.toString("base64")).toBe(PDF_B64);
  });

  it("answers 400 naming the document for an unknown format or a body that is not a PDF", async () => {
    const { seen, upstreams } = fakeRag();
    const unknown = await post(upstreams, "/v1/rag/collections/docs/documents", {
      documents: [
        { id: "a", text: "x" },
        { id: "b", format: "rtf", text: "x" },
      ],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ param: "documents.1.format", type: "invalid_request_error" });
    const notPdf = await post(upstreams, "/v1/rag/collections/docs/documents", {
      documents: [{ id: "a", format: "pdf", content: Buffer.from("GIF89a").toString("base64") }],
    });
    expect(notPdf.status).toBe(400);
    expect(notPdf.body.error).toMatchObject({ param: "documents.0.content" });
    expect(seen).toEqual([]);
  });

  it("search results carry page and heading where rag has them", async () => {
    const res = await post(fakeRag().upstreams, "/v1/rag/collections/docs/search", { query: "q" });
    expect(res.body.results).toEqual([
      { document_id: "r.pdf", chunk_id: "r.pdf#1", score: 1, text: "t", metadata: {}, page: 2 },
      { document_id: "h.html", chunk_id: "h.html#0", score: 0.5, text: "u", metadata: {}, heading: "Travel" },
    ]);
  });
});
