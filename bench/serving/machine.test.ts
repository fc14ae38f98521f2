import { describe, expect, it } from "@jest/globals";
import { cpuFeatures, describeMachine } from "./machine.js";

describe("describeMachine", () => {
  it("names the CPU, cores, memory in GiB, the OS and Node.js", () => {
    const machine = {
      cpu: "AMD EPYC",
      cores: 2,
      memoryBytes: 24 * 2 ** 30,
      os: "Linux 6.18",
      node: "v20.20.2",
    };
    expect(describeMachine(machine)).toBe(
      "AMD EPYC, 2 core(s), 24.0 GiB memory, Linux 6.18, Node.js v20.20.2",
    );
  });
});

describe("cpuFeatures", () => {
  it("lists the features llama.cpp reports as on", () => {
    const info = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 0 | AMX_INT8 = 1 | REPACK = 1 | ";
    expect(cpuFeatures(info)).toBe("SSE3 AVX2 AMX_INT8 REPACK");
  });

  it("says so when there are none", () => {
    expect(cpuFeatures("")).toBe("none reported");
  });
});
