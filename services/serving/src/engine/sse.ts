/** One dispatched server-sent event (WHATWG HTML, "Interpreting an event stream"). */
export interface SseEvent {
  /** The `event:` field; "message" when the block had none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The last `id:` seen on the stream so far ("" when none). */
  lastEventId: string;
}

/** An event (or a line) longer than the parser's bound: the stream is not one a model server sends. */
export class SseError extends Error {}

/** Characters one event may hold before the stream is refused: a bound on buffered memory. */
export const DEFAULT_MAX_EVENT_CHARS = 8 * 1024 * 1024;

const LINE_BREAK = /[\r\n]/g;

/**
 * Incremental event-stream parser. Bytes may be split anywhere, including inside a UTF-8
 * character or between the CR and LF of a line break; lines end in CRLF, LF or CR.
 */
export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private line = "";
  /** The previous chunk ended in CR: an LF opening the next one belongs to the same line break. */
  private afterCR = false;
  private data = "";
  private hasData = false;
  private type = "";
  private lastEventId = "";

  constructor(private readonly maxEventChars = DEFAULT_MAX_EVENT_CHARS) {}

  /** Feeds bytes (or already decoded text) and returns the events they completed. */
  push(chunk: Uint8Array | string): SseEvent[] {
    const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    const out: SseEvent[] = [];
    this.feed(text, out);
    return out;
  }

  /**
   * Ends the stream. Unlike the spec, which drops an unterminated last event, this dispatches it:
   * some servers close the connection straight after their last `data:` line.
   */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    this.feed(this.decoder.decode(), out);
    if (this.line !== "") this.onLine(this.line, out);
    this.line = "";
    this.dispatch(out);
    return out;
  }

  private feed(text: string, out: SseEvent[]): void {
    if (text === "") return;
    let start = 0;
    if (this.afterCR && text.startsWith("\n")) start = 1;
    this.afterCR = false;
    LINE_BREAK.lastIndex = start;
    for (let m = LINE_BREAK.exec(text); m; m = LINE_BREAK.exec(text)) {
      const end = m.index;
      this.onLine(this.line + text.slice(start, end), out);
      this.line = "";
      start = end + 1;
      if (text[end] === "\r") {
        if (end + 1 === text.length) this.afterCR = true;
        else if (text[end + 1] === "\n") start += 1;
      }
      LINE_BREAK.lastIndex = start;
    }
    this.line += text.slice(start);
    if (this.line.length + this.data.length > this.maxEventChars) {
      throw new SseError(`event stream line or event longer than ${this.maxEventChars} characters`);
    }
  }

  private onLine(line: string, out: SseEvent[]): void {
    if (line === "") {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.data = this.hasData ? `${this.data}\n${value}` : value;
      this.hasData = true;
      if (this.data.length > this.maxEventChars) {
        throw new SseError(`event stream event longer than ${this.maxEventChars} characters`);
      }
    } else if (field === "event") {
      this.type = value;
    } else if (field === "id" && !value.includes("\0")) {
      this.lastEventId = value;
    }
    // `retry:` and unknown fields are ignored: nothing here reconnects.
  }

  private dispatch(out: SseEvent[]): void {
    if (this.hasData)
      out.push({ event: this.type || "message", data: this.data, lastEventId: this.lastEventId });
    this.data = "";
    this.hasData = false;
    this.type = "";
  }
}

/**
 * The events of a response body, in order. Stopping early (break, return, throw) cancels the
 * body, which releases the connection.
 */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
  maxEventChars = DEFAULT_MAX_EVENT_CHARS,
): AsyncGenerator<SseEvent> {
  const parser = new SseParser(maxEventChars);
  const reader = body.getReader();
  let finished = false;
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) yield* parser.push(r.value);
    finished = true;
    yield* parser.end();
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
