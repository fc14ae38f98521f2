import {
  decodePageToken,
  EXPORT_PAGE_SIZE,
  encodePageToken,
  InvalidPageTokenError,
  sendPages,
} from "./export.js";

/** A pager over the numbers 1..total; the cursor is the last number sent. */
function numbers(total: number) {
  const fetched: number[] = [];
  return {
    fetched,
    pager: {
      fetch: async (after: string[] | undefined, size: number) => {
        fetched.push(size);
        const start = after ? Number(after[0]) + 1 : 1;
        return Array.from({ length: Math.max(0, Math.min(size, total - start + 1)) }, (_, i) => start + i);
      },
      cursorOf: (n: number) => [String(n)] as [string],
    },
  };
}

async function run(total: number, limit: number, after?: string[]) {
  const { pager, fetched } = numbers(total);
  const pages: number[][] = [];
  const next = await sendPages(
    pager,
    { limit, after, signal: new AbortController().signal },
    async (rows) => {
      pages.push(rows);
    },
  );
  return { pages, next, fetched };
}

describe("sendPages", () => {
  it("sends everything in pages and ends without a token when the data ends first", async () => {
    const { pages, next } = await run(2500, 100_000);
    expect(pages.map((p) => p.length)).toEqual([EXPORT_PAGE_SIZE, EXPORT_PAGE_SIZE, 500]);
    expect(next).toBeUndefined();
  });

  it("stops at the limit with a cursor, and continues from it without gaps or repeats", async () => {
    const first = await run(2500, 1500);
    expect(first.pages.flat()).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1));
    expect(first.next).toEqual(["1500"]);
    const rest = await run(2500, 1500, first.next);
    expect(rest.pages.flat()).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1501));
    expect(rest.next).toBeUndefined();
  });

  it("gives no token when the limit and the data end together (reads one row ahead)", async () => {
    const { next, fetched } = await run(1000, 1000);
    expect(next).toBeUndefined();
    expect(fetched).toEqual([1001]);
  });

  it("stops paging when the call is cancelled", async () => {
    const { pager, fetched } = numbers(10_000);
    const ctl = new AbortController();
    await sendPages(pager, { limit: 10_000, signal: ctl.signal }, async () => ctl.abort());
    expect(fetched).toHaveLength(1);
  });
});

describe("page tokens", () => {
  it("round-trip and are refused for the other kind or when forged", () => {
    const token = encodePageToken({ kind: "daily", after: ["2024-05-01", "t", "k", "m"] });
    expect(decodePageToken(token, "daily").after).toEqual(["2024-05-01", "t", "k", "m"]);
    expect(() => decodePageToken(token, "records")).toThrow(InvalidPageTokenError);
    expect(() => decodePageToken("not-a-token", "records")).toThrow(InvalidPageTokenError);
    const forged = Buffer.from(JSON.stringify({ kind: "records", after: ["x", "y"] })).toString("base64url");
    expect(() => decodePageToken(forged, "records")).toThrow(InvalidPageTokenError);
  });
});
