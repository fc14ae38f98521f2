import { describe, expect, it } from "@jest/globals";
import { PinError, pinPlan } from "./pin.js";

describe("pinPlan", () => {
  it.each([
    [2, 1, { serving: "0", rest: "1" }],
    [16, 1, { serving: "0", rest: "1-15" }],
    [8, 4, { serving: "0-3", rest: "4-7" }],
  ])("splits %d CPUs for %d thread(s)", (cpus, threads, expected) => {
    expect(pinPlan(cpus, threads)).toEqual(expected);
  });

  it("refuses when the raw engine would get fewer CPUs than serving", () => {
    expect(() => pinPlan(3, 2)).toThrow(PinError);
    expect(() => pinPlan(1, 1)).toThrow("--pin needs at least 2 CPUs");
  });
});
