import { getDocumentProxy } from "unpdf";
import { type ParsedDocument, TextBuilder } from "./builder.js";

/** A PDF that pdf.js cannot read: not a PDF, damaged, or encrypted. */
export class PdfError extends Error {
  override readonly name = "PdfError";
}

type PdfDocument = Awaited<ReturnType<typeof getDocumentProxy>>;

export interface PdfOptions {
  /**
   * Pages are read, one at a time, only until the text passes this many characters; the result is
   * then longer than that, and incomplete. A small PDF's compressed streams can hold hundreds of MB
   * of text.
   */
  maxChars?: number | undefined;
}

/**
 * A PDF's text, page by page (each page a paragraph of its own, its lines kept), with a mark at
 * each page's start. Pages without text (scans) add no text and no mark.
 */
export async function pdfToText(bytes: Uint8Array, opts: PdfOptions = {}): Promise<ParsedDocument> {
  const out = new TextBuilder();
  try {
    // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    try {
      await readPages(pdf, out, opts.maxChars ?? Number.POSITIVE_INFINITY);
    } finally {
      await pdf.loadingTask.destroy();
    }
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new PdfError(`the PDF could not be read: ${why}`, { cause });
  }
  return out.result();
}

async function readPages(pdf: PdfDocument, out: TextBuilder, maxChars: number): Promise<void> {
  for (let n = 1; n <= pdf.numPages && out.length <= maxChars; n++) {
    const page = await pdf.getPage(n);
    const content = await page.getTextContent();
    // As unpdf's extractText joins a page's items.
    writePage(
      out,
      content.items.map((item) => ("str" in item ? item.str + (item.hasEOL ? "\n" : "") : "")).join(""),
      n,
    );
    page.cleanup();
  }
}

/** Pages' text as one document with a page mark at each page's start. Pure. */
export function pagesToText(pages: readonly string[]): ParsedDocument {
  const out = new TextBuilder();
  for (const [i, page] of pages.entries()) writePage(out, page, i + 1);
  return out.result();
}

function writePage(out: TextBuilder, page: string, number: number): void {
  const text = page
    .split("\n")
    .map((line) => line.replace(/\s+/g, " ").trim())
    .filter((line) => line.length > 0)
    .join("\n");
  if (text.length === 0) return;
  out.paragraph();
  out.mark({ page: number });
  out.text(text, true);
}
