import fc from "fast-check";
import { l2Normalize } from "./vectors.js";

describe("l2Normalize", () => {
  it("scales to unit length keeping direction", () => {
    expect(l2Normalize([3, 4])).toEqual([0.6, 0.8]);
  });

  it("leaves a zero vector at zero", () => {
    expect(l2Normalize([0, 0, 0])).toEqual([0, 0, 0]);
  });

  it("property: any non-zero vector comes out with norm 1", () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 64 }),
        (v) => {
          fc.pre(v.some((x) => Math.abs(x) > 1e-3));
          const n = Math.sqrt(l2Normalize(v).reduce((s, x) => s + x * x, 0));
          expect(n).toBeCloseTo(1, 5);
        },
      ),
    );
  });
});
