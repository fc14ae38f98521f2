import { describe, expect, it } from "@jest/globals";
import { cpuDelta, procStatCpuSeconds } from "./cpu.js";

describe("procStatCpuSeconds", () => {
  it("adds utime and stime, counting fields after a command name with spaces and parentheses", () => {
    const stat = "4242 (node (tsx) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 1000 0 0";
    expect(procStatCpuSeconds(stat)).toBe(3.25);
  });

  it("refuses a line it cannot read", () => {
    expect(() => procStatCpuSeconds("garbage")).toThrow("unreadable stat line");
  });
});

describe("cpuDelta", () => {
  it("subtracts per process group", () => {
    const before = { bench: 1, serving: 2, engine: 5, gateway: 3, others: 4 };
    const after = { bench: 2, serving: 4, engine: 10, gateway: 6, others: 8 };
    expect(cpuDelta(before, after)).toEqual(before);
  });
});
