import { describe, expect, test } from "@jest/globals";
import { InvalidArgumentError } from "@sloughgpt/runtime";
import fc from "fast-check";
import { chunkText } from "../chunking/chunker.js";
import {
  chunkPositions,
  htmlToText,
  MAX_TEXT_CHARS,
  type Mark,
  markdownToText,
  POSITIONS_KEY,
  pagesToText,
  parseDocument,
  pdfToText,
  positionOf,
} from "./index.js";
import { minimalPdf } from "./minimal-pdf.js";

/** The heading and page in force at `offset`, looked up naively. */
const at = (marks: Mark[], offset: number) => {
  const found: Omit<Mark, "at"> = {};
  for (const { at: from, ...m } of marks) if (from <= offset) Object.assign(found, m);
  return found;
};

describe("HTML to text", () => {
  test("drops script, style and nav; block elements become paragraphs; entities are decoded", () => {
    const doc = htmlToText(`<!doctype html><html><head><title>T</title><style>p{color:red}</style></head>
      <body><nav><a href="/">Home</a> | <a href="/x">X</a></nav>
      <script>var secret = "<p>not text</p>";</script>
      <h1>Getting   started</h1><p>Install the <b>CLI</b> &amp; log in.</p>
      <div>Second<br>line</div><ul><li>one</li><li>two</li></ul>
      <h2>Tables</h2><table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
      <pre>  keep   this
  as is</pre></body></html>`);
    expect(doc.text).toBe(
      "Getting started\n\nInstall the CLI & log in.\n\nSecond\nline\n\none\ntwo\n\nTables\n\na b\nc d\n\n  keep   this\n  as is",
    );
    expect(doc.marks).toEqual([
      { at: 0, heading: "Getting started" },
      { at: doc.text.indexOf("Tables"), heading: "Tables" },
    ]);
  });

  test("an unclosed head ends at the body; unclosed tags end with the document", () => {
    expect(htmlToText("<head><title>x</title><body><p>Body text<p>More").text).toBe("Body text\n\nMore");
    expect(htmlToText("plain words, no tags").text).toBe("plain words, no tags");
  });

  test("without <body> or </head>, the head ends where body content starts (as browsers parse it)", () => {
    expect(htmlToText("<html><head><title>X</title><link rel=x><p>Hello world</p></html>").text).toBe(
      "Hello world",
    );
    const minified = htmlToText('<!doctype html><meta charset="utf-8"><title>X</title><h1>Intro</h1>Text');
    expect(minified).toEqual({ text: "Intro\n\nText", marks: [{ at: 0, heading: "Intro" }] });
    // Text that is not whitespace starts the body too; head elements' content never becomes text.
    expect(htmlToText("<head><style>p{}</style><script>x()</script>Loose words<p>and more").text).toBe(
      "Loose words\n\nand more",
    );
  });

  test("never throws, and its marks are ordered offsets into its text (any input)", () => {
    const piece = fc.constantFrom(
      "<h2>",
      "</h2>",
      "<p>",
      "</p>",
      "<script>",
      "</script>",
      "<br>",
      "&amp;",
      " ",
      "\n",
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(piece, fc.string({ maxLength: 8 })), { maxLength: 40 }), (parts) => {
        const doc = htmlToText(parts.join(""));
        for (const [i, m] of doc.marks.entries()) {
          expect(m.at).toBeGreaterThanOrEqual(i > 0 ? (doc.marks[i - 1]?.at ?? 0) + 1 : 0);
          expect(m.at).toBeLessThan(Math.max(1, doc.text.length));
        }
      }),
    );
  });
});

describe("markdown to text", () => {
  test("markup is dropped, # headings become marks, code and lists keep their lines", () => {
    const doc = markdownToText(
      [
        "# Guide",
        "",
        "Some *emphasis*, **strong** and `code`, a [link](http://x.test) &copy; 2026.",
        "",
        "## Install",
        "",
        "- first",
        "- second",
        "",
        "```sh",
        "npm  install",
        "```",
        "",
        "| a | b |",
        "|---|---|",
        "| 1 | 2 |",
        "",
        "Setext heading",
        "--------------",
        "",
        "Last.",
      ].join("\n"),
    );
    expect(doc.text).toBe(
      "Guide\n\nSome emphasis, strong and code, a link © 2026.\n\nInstall\n\nfirst\nsecond\n\nnpm  install\n\na b\n1 2\n\nSetext heading\n\nLast.",
    );
    expect(doc.marks.map((m) => m.heading)).toEqual(["Guide", "Install", "Setext heading"]);
    expect(doc.text.slice(doc.marks[1]?.at)).toMatch(/^Install/);
  });

  test("image alt text has its character references decoded", () => {
    expect(markdownToText("See ![alt &amp; text &#x2192;](x.png) here.").text).toBe("See alt & text → here.");
  });

  test("a raw HTML block keeps its headings and paragraph breaks", () => {
    const doc = markdownToText(
      [
        "# Top",
        "",
        "<div>",
        "<h2>Raw   section</h2>",
        "<p>First.</p>",
        "<p>Second.</p>",
        "</div>",
        "",
        "After.",
      ].join("\n"),
    );
    expect(doc.text).toBe("Top\n\nRaw section\n\nFirst.\n\nSecond.\n\nAfter.");
    expect(doc.marks).toEqual([
      { at: 0, heading: "Top" },
      { at: doc.text.indexOf("Raw"), heading: "Raw section" },
    ]);
  });

  test("each chunk of a long document gets the heading of the section it starts in", () => {
    const section = (n: number) =>
      `## Section ${n}\n\n${Array.from({ length: 30 }, (_, i) => `Sentence ${i} of section ${n}.`).join(" ")}`;
    const doc = markdownToText([1, 2, 3, 4].map(section).join("\n\n"));
    const chunks = chunkText(doc.text, 300, 40);
    const runs = chunkPositions(
      doc.marks,
      chunks.map((c) => c.start),
    );
    for (const c of chunks) {
      const { position } = positionOf({ [POSITIONS_KEY]: runs }, c.index);
      expect(position.heading).toBe(at(doc.marks, c.start).heading);
      expect(c.text).toContain(`section ${position.heading?.slice(-1)}`);
    }
    // Runs, not one entry per chunk.
    expect(runs.length).toBeLessThanOrEqual(8);
    expect(chunks.length).toBeGreaterThan(runs.length);
  });
});

describe("PDF to text", () => {
  test("a two-page PDF written here: each page's text, with the page it starts on", async () => {
    const bytes = minimalPdf([
      ["Quarterly report (draft).", "Revenue grew in the north region."],
      ["Page two covers the south region.", "Costs fell."],
    ]);
    const doc = await pdfToText(bytes);
    expect(doc.text).toBe(
      "Quarterly report (draft).\nRevenue grew in the north region.\n\nPage two covers the south region.\nCosts fell.",
    );
    expect(doc.marks).toEqual([
      { at: 0, page: 1 },
      { at: doc.text.indexOf("Page two"), page: 2 },
    ]);
    // The caller's bytes are left as they were.
    expect(bytes.length).toBeGreaterThan(0);
    expect(new TextDecoder().decode(bytes.subarray(0, 5))).toBe("%PDF-");
  });

  test("pages without text add neither text nor a mark", () => {
    expect(pagesToText(["", "  text  on\n\n two ", " "])).toEqual({
      text: "text on\ntwo",
      marks: [{ at: 0, page: 2 }],
    });
  });

  test("bytes that are not a readable PDF are the document's error, naming it", async () => {
    const bad = new TextEncoder().encode("%PDF-1.4\nthis is not really a pdf");
    const err = await parseDocument({ id: "bad.pdf", text: "", format: "pdf", content: bad }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^document 'bad.pdf': the PDF could not be read/);
  });
});

describe("converted text limit", () => {
  test("a document whose converted text passes the limit is the document's error, naming it", async () => {
    for (const format of ["text", "markdown", "html"] as const) {
      const text = "word ".repeat(MAX_TEXT_CHARS / 5 + 1);
      const err = await parseDocument({ id: `big-${format}`, text, format }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err).toMatchObject({ param: "documents", reason: "document_too_large" });
      expect((err as Error).message).toMatch(new RegExp(`^document 'big-${format}': .*5000000 characters`));
    }
    const { text } = await parseDocument({
      id: "ok",
      text: "word ".repeat(MAX_TEXT_CHARS / 5),
      format: "text",
    });
    expect(text.length).toBe(MAX_TEXT_CHARS);
  });

  test("a PDF's pages are read only until its text passes the limit", async () => {
    const bytes = minimalPdf([["A first page of some length."], ["A second page."], ["A third page."]]);
    const doc = await pdfToText(bytes, { maxChars: 30 });
    expect(doc.text).toBe("A first page of some length.\n\nA second page.");
    expect(doc.marks).toEqual([
      { at: 0, page: 1 },
      { at: 30, page: 2 },
    ]);
    const err = await parseDocument(
      { id: "p.pdf", text: "", format: "pdf", content: bytes },
      { maxChars: 30 },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^document 'p.pdf': .*30 characters/);
  });

  test("a compressed PDF's text is limited as it is read", async () => {
    const line = "x".repeat(1000);
    const bytes = minimalPdf(
      Array.from({ length: 4 }, () => Array.from({ length: 100 }, () => line)),
      { compress: true, fontSize: 1 },
    );
    expect(bytes.length).toBeLessThan(10_000);
    const doc = await pdfToText(bytes, { maxChars: 150_000 });
    expect(doc.marks.map((m) => m.page)).toEqual([1, 2]);
    // Two pages of 100 lines, a paragraph break between them.
    expect(doc.text.length).toBe(2 * (100 * 1001 - 1) + 2);
    const err = await parseDocument(
      { id: "bomb.pdf", text: "", format: "pdf", content: bytes },
      {
        maxChars: 150_000,
      },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^document 'bomb.pdf': .*150000 characters/);
  });
});

describe("positions", () => {
  test("runs start where the page or heading changes; text before any mark has none", () => {
    const marks: Mark[] = [
      { at: 10, page: 1 },
      { at: 50, heading: "B" },
      { at: 90, page: 2 },
    ];
    expect(chunkPositions(marks, [0, 12, 30, 60, 95, 120])).toEqual([
      { chunk: 1, page: 1 },
      { chunk: 3, page: 1, heading: "B" },
      { chunk: 4, page: 2, heading: "B" },
    ]);
  });

  test("a hit's position comes from its run; the stored runs leave its metadata", () => {
    const metadata = {
      lang: "en",
      [POSITIONS_KEY]: [
        { chunk: 0, page: 1 },
        { chunk: 3, page: 2, heading: "H" },
      ],
    };
    expect(positionOf(metadata, 2)).toEqual({ metadata: { lang: "en" }, position: { page: 1 } });
    expect(positionOf(metadata, 7)).toEqual({
      metadata: { lang: "en" },
      position: { page: 2, heading: "H" },
    });
    expect(positionOf({ lang: "en" }, 0)).toEqual({ metadata: { lang: "en" }, position: {} });
    expect(positionOf({ [POSITIONS_KEY]: "garbled" }, 0)).toEqual({ metadata: {}, position: {} });
  });

  test("agrees with a naive lookup for any marks and chunk starts", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(500), { maxLength: 12 }),
        fc.uniqueArray(fc.nat(500), { maxLength: 30 }),
        (markAt, starts) => {
          const marks = [...markAt]
            .sort((a, b) => a - b)
            .map((a, i): Mark => (i % 2 ? { at: a, page: i } : { at: a, heading: `h${i}` }));
          const sorted = [...starts].sort((a, b) => a - b);
          const runs = chunkPositions(marks, sorted);
          sorted.forEach((start, i) => {
            expect(positionOf({ [POSITIONS_KEY]: runs }, i).position).toEqual(at(marks, start));
          });
        },
      ),
    );
  });
});
