import { batches } from "./batches.js";

/** A source that yields `items` as scheduled: each entry is [delay ms before it, value]. */
async function* scheduled<T>(items: [number, T][]): AsyncGenerator<T> {
  for (const [delay, v] of items) {
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    yield v;
  }
}

async function collect<T>(it: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe("batches", () => {
  it("fills batches up to max from a busy source", async () => {
    const src = scheduled(Array.from({ length: 7 }, (_, i) => [0, i] as [number, number]));
    expect(await collect(batches(src, { max: 3, lingerMs: 50 }))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it("never holds a quiet source's items past the linger", async () => {
    // The second item comes only when the test lets it: the first batch must not wait for it.
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    async function* src(): AsyncGenerator<number> {
      yield 1;
      await gate;
      yield 2;
    }
    const it = batches(src(), { max: 10, lingerMs: 20 })[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual([1]);
    release();
    expect((await it.next()).value).toEqual([2]);
    expect((await it.next()).done).toBe(true);
  });

  it("takes buffered items without waiting, even with no linger", async () => {
    let buffered = 3;
    async function* src() {
      for (let i = 0; i < 4; i++) {
        buffered = 3 - i;
        yield i;
      }
    }
    expect(await collect(batches(src(), { max: 10, lingerMs: 0, buffered: () => buffered }))).toEqual([
      [0, 1, 2, 3],
    ]);
  });
});
