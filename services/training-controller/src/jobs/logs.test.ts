import { InvalidArgumentError } from "@sloughgpt/runtime";
import { lastLines, logBytesPerNode, nodesOf } from "./logs.js";

describe("job logs", () => {
  test("lastLines keeps the final newline, and the whole text when it is shorter", () => {
    expect(lastLines("a\nb\nc\n", 2)).toBe("b\nc\n");
    expect(lastLines("a\nb\nc", 2)).toBe("b\nc");
    expect(lastLines("a\nb\n", 10)).toBe("a\nb\n");
    expect(lastLines("", 3)).toBe("");
    expect(lastLines("a\n", 0)).toBe("");
  });

  test("nodesOf: every node, or one that exists", () => {
    expect(nodesOf(3, undefined)).toEqual([0, 1, 2]);
    expect(nodesOf(3, 2)).toEqual([2]);
    expect(() => nodesOf(2, 2)).toThrow(InvalidArgumentError);
  });
  test("logBytesPerNode shares one budget between the nodes asked for", () => {
    expect(logBytesPerNode({ tailLines: 10 }, 2)).toBe(4 * 1024 * 1024);
    expect(logBytesPerNode({ tailLines: 10 }, 64)).toBe(256 * 1024);
    expect(logBytesPerNode({ tailLines: 10, node: 3 }, 64)).toBe(4 * 1024 * 1024);
    expect(logBytesPerNode({ tailLines: 10 }, 100_000)).toBe(4096);
  });
});
