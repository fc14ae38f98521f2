import { getEventListeners } from "node:events";
import { callUnary } from "./grpc.js";

describe("callUnary", () => {
  it("leaves no abort listener on a long-lived signal once a call is over", async () => {
    const ctl = new AbortController();
    let cancelled = 0;
    const method = ((_req: unknown, _md: unknown, _opts: unknown, cb: (err: null, res: number) => void) => {
      setImmediate(() => cb(null, 42));
      return { cancel: () => cancelled++ };
    }) as never;
    for (let i = 0; i < 20; i++)
      await expect(callUnary(method, {}, { signal: ctl.signal })).resolves.toBe(42);
    expect(getEventListeners(ctl.signal, "abort")).toHaveLength(0);
    ctl.abort();
    expect(cancelled).toBe(0);
  });

  it("cancels the call when the signal aborts while it runs", async () => {
    const ctl = new AbortController();
    let cancelled = 0;
    const method = ((_req: unknown, _md: unknown, _opts: unknown, _cb: unknown) => ({
      cancel: () => cancelled++,
    })) as never;
    void callUnary(method, {}, { signal: ctl.signal });
    ctl.abort();
    expect(cancelled).toBe(1);
  });
});
