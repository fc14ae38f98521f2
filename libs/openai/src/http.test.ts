import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { CancelledError } from "@sloughgpt/runtime";
import { requestIdFrom, requestSignal } from "./http.js";

describe("requestIdFrom", () => {
  it("keeps a plain token and replaces anything else with a new UUID", () => {
    expect(requestIdFrom("req-1.a_B")).toBe("req-1.a_B");
    for (const given of [undefined, "", "a:b", "has space", "x".repeat(129), ["req-1"]]) {
      expect(requestIdFrom(given)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});

describe("requestSignal", () => {
  const response = (finished: boolean) =>
    Object.assign(new EventEmitter(), { writableFinished: finished }) as unknown as ServerResponse;

  it("aborts when the connection closes before the response is complete, not after", () => {
    const shutdown = new AbortController();
    const cut = response(false);
    const cutSignal = requestSignal(cut, shutdown.signal, "stopping");
    cut.emit("close");
    expect(cutSignal.reason).toBeInstanceOf(CancelledError);
    expect((cutSignal.reason as Error).message).toMatch(/client disconnected/);

    const done = response(true);
    const doneSignal = requestSignal(done, shutdown.signal, "stopping");
    done.emit("close");
    expect(doneSignal.aborted).toBe(false);
  });

  it("aborts with the shutdown reason, and lets go of the shutdown signal once the request is over", () => {
    const shutdown = new AbortController();
    const open = response(false);
    const openSignal = requestSignal(open, shutdown.signal, "the server is shutting down");
    const over = response(true);
    const overSignal = requestSignal(over, shutdown.signal, "the server is shutting down");
    over.emit("close");
    shutdown.abort();
    expect((openSignal.reason as Error).message).toMatch(/the server is shutting down/);
    expect(overSignal.aborted).toBe(false);
  });
});
