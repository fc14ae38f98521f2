import { describe, expect, it } from "@jest/globals";
import { type ChildResult, parseChildOutput, QuantChildError } from "./quant-protocol.js";

const resident = { rss: 3, peak: 4, anon: 2, file: 1 };
const result: ChildResult = {
  memory: { beforeLoad: resident, loaded: resident, end: resident },
  decode: { tokens: 512, seconds: 1.5 },
  promptEval: { tokens: 2048, seconds: 0.5 },
  systemInfo: "CPU : AVX2 = 1 |",
};

describe("parseChildOutput", () => {
  it("takes the last line, after whatever the engine printed before it", () => {
    expect(parseChildOutput(`engine says hello\n${JSON.stringify(result)}\n\n`)).toEqual(result);
  });

  it("reads memory JSON wrote as null (no /proc) back as NaN", () => {
    const text = JSON.stringify({
      ...result,
      memory: { ...result.memory, end: { ...resident, peak: Number.NaN } },
    });
    expect(parseChildOutput(text).memory.end.peak).toBeNaN();
  });

  it.each([
    ["", "printed no result line"],
    ["Segmentation fault", "printed no result line, last line: 'Segmentation fault'"],
    [JSON.stringify({ ...result, decode: { tokens: 5, seconds: 0 } }), "malformed"],
    [JSON.stringify({ decode: result.decode }), "malformed"],
  ])("refuses %j", (stdout, message) => {
    expect(() => parseChildOutput(stdout)).toThrow(QuantChildError);
    expect(() => parseChildOutput(stdout)).toThrow(message);
  });
});
