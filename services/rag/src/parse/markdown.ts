import { decodeHTML } from "entities";
import { Lexer, type Token, type Tokens } from "marked";
import { type ParsedDocument, TextBuilder } from "./builder.js";
import { writeHtml } from "./html.js";

/**
 * Markdown (CommonMark with GFM tables) as plain text: markup is dropped, blocks become paragraphs,
 * list items and table rows lines, code is kept as written, raw HTML blocks are converted as HTML
 * (their headings and breaks included), and `#` headings become headings (marks). Pure.
 */
export function markdownToText(markdown: string): ParsedDocument {
  const out = new TextBuilder();
  blocks(out, new Lexer({ gfm: true }).lex(markdown));
  return out.result();
}

function blocks(out: TextBuilder, tokens: Token[]): void {
  for (const t of tokens) block(out, t as Tokens.Generic);
}

function block(out: TextBuilder, t: Tokens.Generic): void {
  switch (t.type) {
    case "heading":
      out.openHeading();
      inline(out, t.tokens ?? []);
      out.closeHeading();
      return;
    case "paragraph":
      out.paragraph();
      inline(out, t.tokens ?? []);
      out.paragraph();
      return;
    case "text":
      // A tight list item's text: inline tokens, or plain text.
      if (t.tokens) inline(out, t.tokens);
      else out.text(t.text);
      return;
    case "code":
      out.paragraph();
      out.text(t.text, true);
      out.paragraph();
      return;
    case "list":
      list(out, t as Tokens.List);
      return;
    case "table":
      table(out, t as Tokens.Table);
      return;
    case "html":
      out.paragraph();
      writeHtml(out, t.text);
      out.paragraph();
      return;
    case "blockquote":
      out.paragraph();
      blocks(out, t.tokens ?? []);
      out.paragraph();
      return;
    default:
      // space, hr, def: only a boundary.
      out.paragraph();
  }
}

function list(out: TextBuilder, t: Tokens.List): void {
  out.paragraph();
  for (const item of t.items) {
    out.lineBreak();
    blocks(out, item.tokens);
  }
  out.paragraph();
}

function table(out: TextBuilder, t: Tokens.Table): void {
  out.paragraph();
  for (const row of [t.header, ...t.rows]) {
    out.lineBreak();
    for (const cell of row) {
      out.space();
      inline(out, cell.tokens);
    }
  }
  out.paragraph();
}

function inline(out: TextBuilder, tokens: Token[]): void {
  for (const t of tokens as Tokens.Generic[]) {
    switch (t.type) {
      case "br":
        out.lineBreak();
        break;
      case "codespan":
        out.text(t.text);
        break;
      case "image":
        // Its alt text, which marked keeps as written, character references included.
        out.text(decodeHTML(t.text));
        break;
      case "html":
        break;
      case "text":
      case "escape":
        if (t.tokens) inline(out, t.tokens);
        // marked keeps character references as written (its renderer leaves them to the browser).
        else out.text(decodeHTML(t.text));
        break;
      default:
        // strong, em, del, link: their content.
        if (t.tokens) inline(out, t.tokens);
        else if (typeof t.text === "string") out.text(t.text);
    }
  }
}
