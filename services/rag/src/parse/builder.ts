/** Where the converted text's position data changes: from `at` on, the page and/or heading given. */
export interface Mark {
  at: number;
  page?: number;
  heading?: string;
}

/** A document as plain text, with the marks (ordered by `at`) that give each offset its page and heading. */
export interface ParsedDocument {
  text: string;
  marks: Mark[];
}

/** Headings longer than this are cut: a citation needs a label, not a paragraph. */
const HEADING_CHARS = 200;

/**
 * Accumulates converted text: inline runs with HTML-like whitespace collapsing (or preserved, for
 * code), line and paragraph breaks that are written only between text, and marks placed where the
 * next text starts. The paragraph breaks it writes ("\n\n") are the chunker's preferred boundaries.
 */
export class TextBuilder {
  private out = "";
  private readonly marks: Mark[] = [];
  private pending: Omit<Mark, "at"> | undefined;
  private pendingBreak: 0 | 1 | 2 = 0;
  private pendingSpace = false;
  private headingAt: number | undefined;
  private headingText = "";
  private inHeading = false;

  /** Characters written so far. */
  get length(): number {
    return this.out.length;
  }

  /** Inline text; runs of whitespace become one space unless `preserve`. */
  text(s: string, preserve = false): void {
    if (preserve) {
      if (s.length > 0) this.emit(s);
      return;
    }
    let t = s.replace(/\s+/g, " ");
    if (t.startsWith(" ")) {
      this.pendingSpace = true;
      t = t.slice(1);
    }
    const trailing = t.endsWith(" ");
    if (trailing) t = t.slice(0, -1);
    if (t.length > 0) this.emit(t);
    if (trailing) this.pendingSpace = true;
  }

  /** A space between the text before and after (a table cell's edge), unless a break comes first. */
  space(): void {
    this.pendingSpace = true;
  }

  lineBreak(): void {
    this.pendingBreak = Math.max(this.pendingBreak, 1) as 1 | 2;
  }

  paragraph(): void {
    this.pendingBreak = 2;
  }

  /** Page or heading data that holds from the next text on; a later mark before any text replaces it. */
  mark(m: Omit<Mark, "at">): void {
    this.pending = { ...this.pending, ...m };
  }

  /** Starts a heading: a paragraph of its own whose text becomes the heading of what follows. */
  openHeading(): void {
    this.paragraph();
    this.inHeading = true;
    this.headingAt = undefined;
    this.headingText = "";
  }

  closeHeading(): void {
    this.inHeading = false;
    this.paragraph();
    const heading = this.headingText.replace(/\s+/g, " ").trim().slice(0, HEADING_CHARS);
    if (this.headingAt !== undefined && heading.length > 0) this.addMark({ at: this.headingAt, heading });
  }

  result(): ParsedDocument {
    return { text: this.out, marks: [...this.marks].sort((a, b) => a.at - b.at) };
  }

  private emit(t: string): void {
    if (this.out.length > 0) {
      if (this.pendingBreak > 0) this.out += this.pendingBreak === 2 ? "\n\n" : "\n";
      else if (this.pendingSpace) this.out += " ";
    }
    this.pendingBreak = 0;
    this.pendingSpace = false;
    if (this.pending) {
      this.addMark({ at: this.out.length, ...this.pending });
      this.pending = undefined;
    }
    if (this.inHeading) {
      this.headingAt ??= this.out.length;
      this.headingText += `${this.headingText ? " " : ""}${t}`;
    }
    this.out += t;
  }

  private addMark(m: Mark): void {
    const last = this.marks[this.marks.length - 1];
    if (last && last.at === m.at) Object.assign(last, m);
    else this.marks.push(m);
  }
}
