import { backoffSeconds, isRetryable } from "./failure.js";

describe("isRetryable", () => {
  test.each([
    [137, undefined, true],
    [143, undefined, true],
    [128, undefined, true],
    [1, undefined, false],
    [127, undefined, false],
    [0, undefined, false],
    [1, [1, 137], true],
    [143, [1, 137], false],
    [2, [], false],
    [139, [], true],
  ])("exit %i with retryableExitCodes %j → %s", (code, list, expected) => {
    expect(isRetryable(code, { retryableExitCodes: list })).toBe(expected);
  });
});

describe("backoffSeconds", () => {
  test.each([
    [0, 10, 10],
    [1, 10, 20],
    [3, 10, 80],
    [10, 10, 600],
    [0, 0, 0],
    [50, 1, 600],
  ])("before restart %i with base %is → %is", (restarts, base, expected) => {
    expect(backoffSeconds(restarts, { backoffSeconds: base })).toBe(expected);
  });
});
