import { type BatchClock, DeltaBatcher, type DeltaItem } from "./delta-batcher.js";

/** A clock the test moves by hand; timers fire when it passes their time. */
function manualClock() {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  const clock: BatchClock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimeout: (t) => {
      timers = timers.filter((x) => x !== t);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.filter((x) => x.at <= now)) {
      timers = timers.filter((x) => x !== t);
      t.fn();
    }
  };
  return { clock, advance, pending: () => timers.length };
}

function batcher(intervalMs: number) {
  const sent: DeltaItem[][] = [];
  const c = manualClock();
  const b = new DeltaBatcher({ intervalMs, send: (items) => sent.push(items), clock: c.clock });
  return { b, sent, ...c };
}

describe("DeltaBatcher", () => {
  it("sends a generation's first delta at once", () => {
    const { b, sent } = batcher(10);
    b.add(1, "Once");
    expect(sent).toEqual([[{ id: 1, text: "Once", tokens: 1 }]]);
  });

  it("holds later deltas until the interval since the last message has passed, then sends them joined", () => {
    const { b, sent, advance } = batcher(10);
    b.add(1, "Once");
    advance(3);
    b.add(1, " upon");
    advance(3);
    b.add(1, " a");
    expect(sent).toHaveLength(1);
    advance(4);
    expect(sent[1]).toEqual([{ id: 1, text: " upon a", tokens: 2 }]);
  });

  it("sends at once a delta that comes after a quiet interval", () => {
    const { b, sent, advance, pending } = batcher(10);
    b.add(1, "Once");
    advance(25);
    b.add(1, " upon");
    expect(sent).toEqual([[{ id: 1, text: "Once", tokens: 1 }], [{ id: 1, text: " upon", tokens: 1 }]]);
    expect(pending()).toBe(0);
  });

  it("puts every generation's held text in one message, each in its own order", () => {
    const { b, sent, advance } = batcher(10);
    b.add(1, "a");
    b.add(2, "x");
    advance(1);
    b.add(1, "b");
    b.add(2, "y");
    b.add(1, "c");
    advance(10);
    expect(sent.at(-1)).toEqual([
      { id: 1, text: "bc", tokens: 2 },
      { id: 2, text: "y", tokens: 1 },
    ]);
  });

  it("sends what a generation still holds when it ends, before its result", () => {
    const { b, sent, advance, pending } = batcher(10);
    b.add(1, "a");
    advance(1);
    b.add(1, "b");
    b.end(1);
    expect(sent).toEqual([[{ id: 1, text: "a", tokens: 1 }], [{ id: 1, text: "b", tokens: 1 }]]);
    expect(pending()).toBe(0);
    // A new generation with the same id is new again: its first delta is not held.
    b.add(1, "z");
    expect(sent).toHaveLength(3);
  });

  it("with a zero interval sends every delta on its own", () => {
    const { b, sent } = batcher(0);
    for (const t of ["a", "b", "c"]) b.add(1, t);
    expect(sent.map((m) => m.map((i) => i.text))).toEqual([["a"], ["b"], ["c"]]);
  });
});
