import { setCondition, setPhaseCondition } from "./conditions.js";

const t0 = new Date("2026-01-01T00:00:00Z");
const t1 = new Date("2026-01-01T00:05:00Z");

describe("conditions", () => {
  test("keeps lastTransitionTime while the status stays the same", () => {
    const first = setCondition(
      undefined,
      { type: "Queued", status: "True", reason: "InsufficientGpus", message: "a" },
      t0,
      1,
    );
    const again = setCondition(
      first,
      { type: "Queued", status: "True", reason: "InsufficientGpus", message: "b" },
      t1,
      2,
    );
    expect(again).toEqual([
      {
        type: "Queued",
        status: "True",
        reason: "InsufficientGpus",
        message: "b",
        lastTransitionTime: t0.toISOString(),
        observedGeneration: 2,
      },
    ]);
  });

  test("a phase condition turns the previous phase's condition False", () => {
    const queued = setPhaseCondition(
      undefined,
      { type: "Queued", status: "True", reason: "InsufficientGpus", message: "" },
      t0,
      1,
    );
    const admitted = setPhaseCondition(
      queued,
      { type: "Admitted", status: "True", reason: "Admitted", message: "ok" },
      t1,
      1,
    );
    expect(admitted.map((c) => [c.type, c.status, c.lastTransitionTime])).toEqual([
      ["Queued", "False", t1.toISOString()],
      ["Admitted", "True", t1.toISOString()],
    ]);
  });
});
