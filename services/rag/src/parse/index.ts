import { InvalidArgumentError } from "@sloughgpt/runtime";
import type { ParsedDocument } from "./builder.js";
import { htmlToText } from "./html.js";
import { markdownToText } from "./markdown.js";
import { PdfError, pdfToText } from "./pdf.js";

export type { Mark, ParsedDocument } from "./builder.js";
export { htmlToText } from "./html.js";
export { markdownToText } from "./markdown.js";
export { pagesToText, pdfToText } from "./pdf.js";
export { chunkPositions, POSITIONS_KEY, type Position, type PositionRun, positionOf } from "./positions.js";

// The gateway keeps its own copies of these (services/gateway/src/routes/rag-documents.ts: it does
// not depend on this package): change both together.
export const DOCUMENT_FORMATS = ["text", "markdown", "html", "pdf"] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

/** Largest PDF accepted, in bytes. */
export const MAX_PDF_BYTES = 16 * 1024 * 1024;
/** Longest converted text of one document, in characters: the upsert's limit on plain text. */
export const MAX_TEXT_CHARS = 5_000_000;

export interface SourceDocument {
  id: string;
  /** The text, or the markdown or HTML source. */
  text: string;
  format?: DocumentFormat | undefined;
  /** A PDF's bytes. */
  content?: Uint8Array | undefined;
}

export interface ParseOptions {
  /** Longest converted text; default MAX_TEXT_CHARS. */
  maxChars?: number | undefined;
}

/**
 * A document's source as plain text with positions. An unreadable PDF, or converted text over the
 * limit, is the request's error naming the document.
 */
export async function parseDocument(doc: SourceDocument, opts: ParseOptions = {}): Promise<ParsedDocument> {
  const maxChars = opts.maxChars ?? MAX_TEXT_CHARS;
  const parsed = await convert(doc, maxChars);
  if (parsed.text.length > maxChars)
    throw new InvalidArgumentError(`document '${doc.id}': its text is over ${maxChars} characters`, {
      param: "documents",
      reason: "document_too_large",
    });
  return parsed;
}

async function convert(doc: SourceDocument, maxChars: number): Promise<ParsedDocument> {
  switch (doc.format ?? "text") {
    case "text":
      return { text: doc.text, marks: [] };
    case "markdown":
      return markdownToText(doc.text);
    case "html":
      return htmlToText(doc.text);
    case "pdf":
      try {
        return await pdfToText(doc.content ?? new Uint8Array(), { maxChars });
      } catch (err) {
        if (!(err instanceof PdfError)) throw err;
        throw new InvalidArgumentError(`document '${doc.id}': ${err.message}`, {
          param: "documents",
          reason: "unreadable_document",
          cause: err,
        });
      }
  }
}
