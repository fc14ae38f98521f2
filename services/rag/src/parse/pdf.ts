import { extractText, getDocumentProxy } from "unpdf";
import { type ParsedDocument, TextBuilder } from "./builder.js";

/** A PDF that pdf.js cannot read: not a PDF, damaged, or encrypted. */
export class PdfError extends Error {
  override readonly name = "PdfError";
}

/**
 * A PDF's text, page by page (each page a paragraph of its own, its lines kept), with a mark at
 * each page's start. Pages without text (scans) add no text and no mark.
 */
export async function pdfToText(bytes: Uint8Array): Promise<ParsedDocument> {
  let pages: string[];
  try {
    // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    try {
      pages = (await extractText(pdf, { mergePages: false })).text;
    } finally {
      await pdf.loadingTask.destroy();
    }
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new PdfError(`the PDF could not be read: ${why}`, { cause });
  }
  return pagesToText(pages);
}

/** Pages' text as one document with a page mark at each page's start. Pure. */
export function pagesToText(pages: readonly string[]): ParsedDocument {
  const out = new TextBuilder();
  pages.forEach((page, i) => {
    const text = page
      .split("\n")
      .map((line) => line.replace(/\s+/g, " ").trim())
      .filter((line) => line.length > 0)
      .join("\n");
    if (text.length === 0) return;
    out.paragraph();
    out.mark({ page: i + 1 });
    out.text(text, true);
  });
  return out.result();
}
