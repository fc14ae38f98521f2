import fc from "fast-check";
import { SseError, type SseEvent, SseParser, sseEvents } from "./sse.js";

const utf8 = new TextEncoder();

/** Parses `chunks` in order, then ends the stream. */
function parse(chunks: (Uint8Array | string)[], maxEventChars?: number): SseEvent[] {
  const parser = new SseParser(maxEventChars);
  return [...chunks.flatMap((c) => parser.push(c)), ...parser.end()];
}

const bytes = (s: string) => utf8.encode(s);
const datas = (events: SseEvent[]) => events.map((e) => e.data);

describe("SseParser", () => {
  it.each([
    ["LF", "data: a\n\ndata: b\n\n"],
    ["CRLF", "data: a\r\n\r\ndata: b\r\n\r\n"],
    ["CR", "data: a\r\rdata: b\r\r"],
    ["mixed", "data: a\r\n\ndata: b\r\r\n"],
  ])("splits events on %s line breaks", (_name, stream) => {
    expect(datas(parse([stream]))).toEqual(["a", "b"]);
  });

  it("joins multi-line data with LF and keeps the event type and last id", () => {
    const events = parse(["event: delta\nid: 7\ndata: one\ndata:two\ndata:  three\n\ndata: next\n\n"]);
    expect(events).toEqual([
      { event: "delta", data: "one\ntwo\n three", lastEventId: "7" },
      { event: "message", data: "next", lastEventId: "7" },
    ]);
  });

  it("ignores comments, retry, unknown fields and blank events", () => {
    const events = parse([": keep-alive\n\nretry: 100\nfoo: bar\n\n\n\ndata\n\ndata: [DONE]\n\n"]);
    expect(datas(events)).toEqual(["", "[DONE]"]);
  });

  it("joins a CR and an LF that arrive in different chunks into one line break", () => {
    expect(datas(parse(["data: a\r", "\ndata: b\r", "\n\r", "\n"]))).toEqual(["a\nb"]);
  });

  it("decodes a UTF-8 character split between chunks", () => {
    const all = bytes('data: {"t":"é😀"}\n\n');
    const cut = all.indexOf(0xf0) + 2; // inside the 4-byte emoji
    expect(datas(parse([all.slice(0, cut), all.slice(cut)]))).toEqual(['{"t":"é😀"}']);
  });

  it("dispatches an event the server did not terminate before closing", () => {
    expect(datas(parse(["data: a\n\ndata: b"]))).toEqual(["a", "b"]);
  });

  it("refuses a line longer than its bound", () => {
    expect(() => parse([`data: ${"x".repeat(100)}`], 50)).toThrow(SseError);
    expect(() => parse([`data: ${"x".repeat(30)}\ndata: ${"y".repeat(30)}\n`], 50)).toThrow(SseError);
  });
});

// Property: any split of a valid event stream's bytes yields the same events as the whole.
const lineText = fc.string({ unit: "binary", maxLength: 12 }).filter((s) => !/[\r\n]/.test(s));
const block = fc.record({
  comment: fc.option(lineText, { nil: undefined }),
  event: fc.option(lineText, { nil: undefined }),
  id: fc.option(
    lineText.filter((s) => !s.includes("\0")),
    { nil: undefined },
  ),
  data: fc.array(lineText, { minLength: 1, maxLength: 3 }),
  extraBlankLine: fc.boolean(),
});

type Block = typeof block extends fc.Arbitrary<infer T> ? T : never;

function serialize(blocks: Block[], eol: string): { text: string; expected: SseEvent[] } {
  let text = "";
  let lastEventId = "";
  const expected: SseEvent[] = [];
  for (const b of blocks) {
    if (b.comment !== undefined) text += `:${b.comment}${eol}`;
    if (b.event !== undefined) text += `event: ${b.event}${eol}`;
    if (b.id !== undefined) {
      text += `id: ${b.id}${eol}`;
      lastEventId = b.id;
    }
    for (const d of b.data) text += `data: ${d}${eol}`;
    text += eol;
    if (b.extraBlankLine) text += eol;
    expected.push({ event: b.event || "message", data: b.data.join("\n"), lastEventId });
  }
  return { text, expected };
}

function splitAt(all: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, all.length]) {
    chunks.push(all.slice(from, p));
    from = p;
  }
  return chunks;
}

describe("SseParser property", () => {
  it("yields the same events for any chunking of the bytes", () => {
    fc.assert(
      fc.property(
        fc.array(block, { maxLength: 6 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        fc.array(fc.nat(), { maxLength: 20 }),
        (blocks, eol, cuts) => {
          const { text, expected } = serialize(blocks, eol);
          const all = bytes(text);
          expect(parse([all])).toEqual(expected);
          expect(parse(splitAt(all, cuts))).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("yields the same events when fed one byte at a time", () => {
    fc.assert(
      fc.property(fc.array(block, { maxLength: 4 }), fc.constantFrom("\n", "\r\n", "\r"), (blocks, eol) => {
        const { text, expected } = serialize(blocks, eol);
        const all = bytes(text);
        expect(parse(Array.from(all, (b) => Uint8Array.of(b)))).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });
});

describe("sseEvents", () => {
  const streamOf = (chunks: string[], onCancel: () => void) =>
    new ReadableStream<Uint8Array>({
      start(ctl) {
        for (const c of chunks) ctl.enqueue(bytes(c));
      },
      cancel: onCancel,
    });

  it("reads the events of a body in order", async () => {
    const seen: string[] = [];
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (const c of ["data: 1\n", "\ndata: 2\n\n", "data: [DONE]\n\n"]) ctl.enqueue(bytes(c));
        ctl.close();
      },
    });
    for await (const ev of sseEvents(body)) seen.push(ev.data);
    expect(seen).toEqual(["1", "2", "[DONE]"]);
  });

  it("cancels the body when the reader stops early", async () => {
    let cancelled = false;
    const body = streamOf(["data: 1\n\ndata: 2\n\n"], () => {
      cancelled = true;
    });
    for await (const ev of sseEvents(body)) if (ev.data === "1") break;
    expect(cancelled).toBe(true);
  });
});
