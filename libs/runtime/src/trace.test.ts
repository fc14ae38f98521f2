import fc from "fast-check";
import { childTrace, currentTrace, formatTraceparent, parseTraceparent, withTrace } from "./trace.js";

describe("W3C trace context", () => {
  it("parses a valid traceparent", () => {
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      sampled: true,
    });
  });

  it.each([
    undefined,
    "",
    "garbage",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  ])("rejects %j", (h) => {
    expect(parseTraceparent(h)).toBeUndefined();
  });

  it("property: format then parse is the identity for child traces", () => {
    fc.assert(
      fc.property(fc.boolean(), (sampled) => {
        const t = { ...childTrace(), sampled };
        expect(parseTraceparent(formatTraceparent(t))).toEqual(t);
      }),
    );
  });

  it("gives every new trace and span ids of their own, across refills of the random pool", () => {
    const traces = Array.from({ length: 2_000 }, () => childTrace());
    expect(new Set(traces.map((t) => t.traceId)).size).toBe(2_000);
    expect(new Set(traces.map((t) => t.spanId)).size).toBe(2_000);
    for (const t of traces) expect(parseTraceparent(formatTraceparent(t))).toEqual(t);
  });

  it("keeps the trace id and makes a new span for a child", () => {
    const parent = childTrace();
    const child = childTrace(parent);
    expect(child.traceId).toBe(parent.traceId);
    expect(child.spanId).not.toBe(parent.spanId);
  });

  it("exposes the current trace inside withTrace only", async () => {
    const t = childTrace();
    await withTrace(t, async () => {
      await new Promise((r) => setTimeout(r, 1));
      expect(currentTrace()).toBe(t);
    });
    expect(currentTrace()).toBeUndefined();
  });
});
