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

export const DOCUMENT_FORMATS = ["text", "markdown", "html", "pdf"] as const;
export type DocumentFormat = (typeof DOCUMENT_FORMATS)[number];

/** Largest PDF accepted, in bytes. */
export const MAX_PDF_BYTES = 16 * 1024 * 1024;

export interface SourceDocument {
  id: string;
  /** The text, or the markdown or HTML source. */
  text: string;
  format?: DocumentFormat | undefined;
  /** A PDF's bytes. */
  content?: Uint8Array | undefined;
}

/** A document's source as plain text with positions; an unreadable PDF is the request's error. */
export async function parseDocument(doc: SourceDocument): Promise<ParsedDocument> {
  switch (doc.format ?? "text") {
    case "text":
      return { text: doc.text, marks: [] };
    case "markdown":
      return markdownToText(doc.text);
    case "html":
      return htmlToText(doc.text);
    case "pdf":
      try {
        return await pdfToText(doc.content ?? new Uint8Array());
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
