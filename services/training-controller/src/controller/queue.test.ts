import { WorkQueue } from "./queue.js";

describe("WorkQueue", () => {
  const signal = new AbortController().signal;

  test("a key added many times while waiting is processed once, in first-added order", async () => {
    const q = new WorkQueue();
    for (const k of ["a", "b", "a", "a", "c", "b"]) q.add(k);
    expect(q.length).toBe(3);
    const got = [await q.next(signal), await q.next(signal), await q.next(signal)];
    expect(got).toEqual(["a", "b", "c"]);
  });

  test("a key added while being processed runs again after done, never concurrently", async () => {
    const q = new WorkQueue();
    q.add("a");
    const first = await q.next(signal);
    q.add("a");
    expect(q.length).toBe(0);
    q.done(first!);
    expect(q.length).toBe(1);
    expect(await q.next(signal)).toBe("a");
  });

  test("waiting many times on one signal leaves no abort listeners behind", async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    }) as typeof add;
    ac.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    }) as typeof remove;
    for (let i = 0; i < 50; i++) {
      const next = q.next(ac.signal);
      q.add(`k${i}`);
      q.done((await next)!);
    }
    expect(listeners).toBe(0);
  });

  test("next resolves undefined once closed or aborted", async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    const pending = q.next(ac.signal);
    ac.abort();
    expect(await pending).toBeUndefined();
    q.close();
    q.add("x");
    expect(await q.next(signal)).toBeUndefined();
  });
});
