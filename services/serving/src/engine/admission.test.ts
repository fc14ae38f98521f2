import { ResourceExhaustedError } from "@sloughgpt/runtime";
import { Admission } from "./admission.js";

describe("Admission", () => {
  it("admits up to `slots` at once and queues the rest in FIFO order", async () => {
    const a = new Admission(2, 10);
    const r1 = await a.acquire();
    await a.acquire();
    const order: number[] = [];
    const w3 = a.acquire().then((r) => {
      order.push(3);
      return r;
    });
    const w4 = a.acquire().then((r) => {
      order.push(4);
      return r;
    });
    expect([a.running, a.queued]).toEqual([2, 2]);
    r1();
    const r3 = await w3;
    expect(order).toEqual([3]);
    expect([a.running, a.queued]).toEqual([2, 1]);
    r3();
    await w4;
    expect(order).toEqual([3, 4]);
  });

  it("fails fast with RESOURCE_EXHAUSTED when the queue is full", async () => {
    const a = new Admission(1, 1);
    await a.acquire();
    void a.acquire();
    await expect(a.acquire()).rejects.toBeInstanceOf(ResourceExhaustedError);
  });

  it("removes an aborted waiter from the queue", async () => {
    const a = new Admission(1, 5);
    const r1 = await a.acquire();
    const ctl = new AbortController();
    const waiting = a.acquire(ctl.signal);
    ctl.abort(new Error("client gone"));
    await expect(waiting).rejects.toThrow("client gone");
    expect(a.queued).toBe(0);
    r1();
    expect(a.running).toBe(0);
  });

  it("ignores a second release of the same permit", async () => {
    const a = new Admission(1, 5);
    const r = await a.acquire();
    r();
    r();
    expect(a.running).toBe(0);
    await a.acquire();
    expect(a.running).toBe(1);
  });
});
