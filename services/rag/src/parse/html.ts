import { Parser } from "htmlparser2";
import { type ParsedDocument, TextBuilder } from "./builder.js";

/** Elements whose content is not the document's text. */
const SKIPPED = new Set([
  "script",
  "style",
  "nav",
  "noscript",
  "template",
  "title",
  "svg",
  "canvas",
  "iframe",
  "object",
]);
/**
 * What may stand in a document's head. Both <head> and <body> are optional, so anything else (or
 * text that is not whitespace) starts the body, as browsers parse it.
 */
const HEAD_CONTENT = new Set([
  "html",
  "head",
  "title",
  "meta",
  "link",
  "style",
  "script",
  "base",
  "noscript",
  "template",
]);
const PARAGRAPHS = new Set([
  "p",
  "div",
  "section",
  "article",
  "main",
  "header",
  "footer",
  "aside",
  "blockquote",
  "pre",
  "ul",
  "ol",
  "dl",
  "table",
  "figure",
  "figcaption",
  "hr",
  "address",
  "form",
  "fieldset",
  "details",
  "summary",
  "body",
]);
const LINES = new Set(["br", "li", "dt", "dd", "tr", "caption", "option"]);
const CELLS = new Set(["td", "th"]);
const HEADING = /^h[1-6]$/;

/**
 * HTML as plain text: the head, script, style, nav and the like are dropped, block elements become
 * paragraph breaks, list items and table rows lines, whitespace collapses outside <pre>, entities are
 * decoded, and h1-h6 become headings (marks). Pure.
 */
export function htmlToText(html: string): ParsedDocument {
  const out = new TextBuilder();
  writeHtml(out, html);
  return out.result();
}

/** Writes HTML's text, breaks and headings to `out` (what htmlToText returns). */
export function writeHtml(out: TextBuilder, html: string): void {
  const w = new HtmlWriter(out);
  const parser = new Parser(
    {
      onopentag: (name) => w.open(name),
      onclosetag: (name) => w.close(name),
      ontext: (text) => w.text(text),
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.end(html);
}

class HtmlWriter {
  // A document starts in its (possibly implied) head.
  private inHead = true;
  private skipped = 0;
  private pre = 0;

  constructor(private readonly out: TextBuilder) {}

  open(name: string): void {
    if (this.skipped > 0) {
      if (SKIPPED.has(name)) this.skipped++;
      return;
    }
    if (!HEAD_CONTENT.has(name)) this.inHead = false;
    if (SKIPPED.has(name)) this.skipped++;
    if (this.skipped > 0 || this.inHead) return;
    if (name === "pre") this.pre++;
    if (HEADING.test(name)) this.out.openHeading();
    else this.boundary(name);
  }

  close(name: string): void {
    if (name === "head") this.inHead = false;
    if (SKIPPED.has(name)) {
      this.skipped = Math.max(0, this.skipped - 1);
      return;
    }
    if (this.skipped > 0 || this.inHead) return;
    if (name === "pre") this.pre = Math.max(0, this.pre - 1);
    if (HEADING.test(name)) this.out.closeHeading();
    else if (name !== "br") this.boundary(name);
  }

  text(text: string): void {
    if (this.skipped > 0) return;
    if (this.inHead && /\S/.test(text)) this.inHead = false;
    if (!this.inHead) this.out.text(text, this.pre > 0);
  }

  private boundary(name: string): void {
    if (PARAGRAPHS.has(name)) this.out.paragraph();
    else if (LINES.has(name)) this.out.lineBreak();
    else if (CELLS.has(name)) this.out.space();
  }
}
