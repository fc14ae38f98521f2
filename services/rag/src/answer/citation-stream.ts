/**
 * The citation check of `checkCitations` applied to an answer as it streams: each `[n]` is let through
 * when it names one of the `count` retrieved passages and dropped otherwise, and text that might still
 * become a citation (`[`, `[1`, `[12` at the end of a delta) is held back until the next delta decides.
 * The concatenated output equals `checkCitations(whole answer).text`, however the answer is split. Pure.
 */
export class CitationStream {
  private pending = "";
  readonly cited: number[] = [];
  readonly invalid: number[] = [];

  constructor(private readonly count: number) {}

  /** Text that can be sent now. */
  push(delta: string): string {
    this.pending += delta;
    let out = "";
    for (;;) {
      const open = this.pending.indexOf("[");
      if (open < 0) {
        out += this.pending;
        this.pending = "";
        return out;
      }
      out += this.pending.slice(0, open);
      const rest = this.pending.slice(open);
      const citation = /^\[(\d{1,4})\]/.exec(rest);
      if (citation) {
        out += this.cite(Number(citation[1]), citation[0]);
        this.pending = rest.slice(citation[0].length);
      } else if (/^\[\d{0,4}$/.test(rest)) {
        // Could still be a citation: wait for more text.
        this.pending = rest;
        return out;
      } else {
        out += "[";
        this.pending = rest.slice(1);
      }
    }
  }

  /** What was held back, once the answer is complete (an unfinished `[12` is text, not a citation). */
  end(): string {
    const rest = this.pending;
    this.pending = "";
    return rest;
  }

  private cite(n: number, whole: string): string {
    const valid = n >= 1 && n <= this.count;
    const list = valid ? this.cited : this.invalid;
    if (!list.includes(n)) list.push(n);
    return valid ? whole : "";
  }
}
