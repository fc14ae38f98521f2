import { Parser } from "htmlparser2";
import { type ParsedDocument, TextBuilder } from "./builder.js";

/** Elements whose content is not the document's text. */
const SKIPPED = new Set([
  "script",
  "style",
  "nav",
  "noscript",
  "template",
  "head",
  "svg",
  "canvas",
  "iframe",
  "object",
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
 * HTML as plain text: script, style, nav and the like are dropped, block elements become paragraph
 * breaks, list items and table rows lines, whitespace collapses outside <pre>, entities are decoded,
 * and h1-h6 become headings (marks). Pure.
 */
export function htmlToText(html: string): ParsedDocument {
  const out = new TextBuilder();
  let skipped = 0;
  let pre = 0;
  const boundary = (name: string) => {
    if (PARAGRAPHS.has(name)) out.paragraph();
    else if (LINES.has(name)) out.lineBreak();
    else if (CELLS.has(name)) out.space();
  };
  const parser = new Parser(
    {
      onopentag(name) {
        // An unclosed <head> ends where the body starts.
        if (name === "body") skipped = 0;
        if (SKIPPED.has(name) || skipped > 0) {
          if (SKIPPED.has(name)) skipped++;
          return;
        }
        if (name === "pre") pre++;
        if (HEADING.test(name)) out.openHeading();
        else boundary(name);
      },
      onclosetag(name) {
        if (SKIPPED.has(name)) {
          skipped = Math.max(0, skipped - 1);
          return;
        }
        if (skipped > 0) return;
        if (name === "pre") pre = Math.max(0, pre - 1);
        if (HEADING.test(name)) out.closeHeading();
        else if (name !== "br") boundary(name);
      },
      ontext(text) {
        if (skipped === 0) out.text(text, pre > 0);
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.end(html);
  return out.result();
}
