import { rag as ragProto } from "@sloughgpt/proto";
import { z } from "zod";

// Copies of rag's DOCUMENT_FORMATS, MAX_TEXT_CHARS and MAX_PDF_BYTES (services/rag/src/parse/index.ts):
// the gateway does not depend on the rag package. Change both together.

/** Largest text, markdown or HTML source of one document, in characters (as rag accepts). */
export const MAX_TEXT_CHARS = 5_000_000;
/** Largest PDF of one document, in bytes (as rag accepts); the request's body limit may be lower. */
export const MAX_PDF_BYTES = 16 * 1024 * 1024;
const MAX_PDF_BASE64_CHARS = Math.ceil(MAX_PDF_BYTES / 3) * 4;

const FORMATS = {
  text: ragProto.DocumentFormat.DOCUMENT_FORMAT_TEXT,
  markdown: ragProto.DocumentFormat.DOCUMENT_FORMAT_MARKDOWN,
  html: ragProto.DocumentFormat.DOCUMENT_FORMAT_HTML,
  pdf: ragProto.DocumentFormat.DOCUMENT_FORMAT_PDF,
} as const;

/** pdf.js finds the header within a file's first KiB, as readers do. */
const PDF_HEADER_WINDOW = 1024;

/** Whether base64 `content` decodes to bytes with a PDF header near the start. */
export function looksLikePdf(content: string): boolean {
  const head = Buffer.from(content.slice(0, Math.ceil(PDF_HEADER_WINDOW / 3) * 4), "base64");
  return head.subarray(0, PDF_HEADER_WINDOW).includes("%PDF-", 0, "latin1");
}

const documentBody = z
  .object({
    id: z.string().min(1).max(512),
    format: z
      .enum(["text", "markdown", "html", "pdf"])
      .default("text")
      .describe("How the source is written: text, markdown and html in `text`; pdf in `content`."),
    text: z.string().max(MAX_TEXT_CHARS).optional().describe("The text, or the markdown or HTML source."),
    content: z
      .base64()
      .max(MAX_PDF_BASE64_CHARS)
      .optional()
      .describe("A PDF's bytes, base64 (format pdf only)."),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((d, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (d.format !== "pdf") {
      if (d.text === undefined) issue("text", `a ${d.format} document needs text`);
      if (d.content !== undefined) issue("content", "content is for pdf documents; give text");
      return;
    }
    if (d.text !== undefined) issue("text", "a pdf document has content (base64), not text");
    if (!d.content) issue("content", "a pdf document needs content: its bytes, base64");
    else if (!looksLikePdf(d.content)) issue("content", "content is not a PDF (no %PDF- header)");
  });

export const documentsBody = z.object({
  documents: z.array(documentBody).min(1).max(1000),
  // Queue the documents for durable ingestion and answer 202 with a job id at once.
  async: z.boolean().default(false),
});

/** The body's documents as rag takes them. */
export function toProtoDocuments(body: z.infer<typeof documentsBody>): ragProto.Document[] {
  return body.documents.map((d) => ({
    id: d.id,
    text: d.text ?? "",
    metadataJson: JSON.stringify(d.metadata ?? {}),
    format: FORMATS[d.format],
    content: d.content ? Buffer.from(d.content, "base64") : Buffer.alloc(0),
  }));
}

/** A result's or citation's page and heading, where its document has them. */
export function positionJson(p: { page?: number | undefined; heading?: string | undefined }) {
  return {
    ...(p.page === undefined ? {} : { page: p.page }),
    ...(p.heading === undefined ? {} : { heading: p.heading }),
  };
}
