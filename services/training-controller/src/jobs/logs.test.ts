import { InvalidArgumentError } from "@sloughgpt/runtime";
import { lastLines, nodesOf } from "./logs.js";

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
});
