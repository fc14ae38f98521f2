import { phaseEvents } from "./events.js";
import { storedJob } from "./testjob.js";

const now = new Date("2026-01-01T01:00:00Z");

describe("phase events", () => {
  test("a phase announces itself with its condition's reason and message", () => {
    const job = storedJob();
    const events = phaseEvents(
      job,
      {
        phase: "Failed",
        restarts: 2,
        conditions: [
          {
            type: "Failed",
            status: "True",
            reason: "PermanentExit",
            message: "exit 3",
            lastTransitionTime: now.toISOString(),
          },
        ],
      },
      now,
    );
    expect(events).toEqual([
      [
        "training.job.ml.llm.failed",
        {
          namespace: "ml",
          name: "llm",
          uid: "uid-1",
          phase: "Failed",
          reason: "PermanentExit",
          message: "exit 3",
          restarts: 2,
          at: now.toISOString(),
        },
      ],
    ]);
  });

  test("success with output.modelId also publishes the model; no phase, nothing", () => {
    const job = storedJob({ output: { modelId: "m", path: "/models/m.gguf" } });
    const events = phaseEvents(job, { phase: "Succeeded" }, now);
    expect(events.map(([subject]) => subject)).toEqual(["training.job.ml.llm.succeeded", "model.published"]);
    expect(events[1]?.[1]).toEqual({
      modelId: "m",
      path: "/models/m.gguf",
      job: { namespace: "ml", name: "llm", uid: "uid-1" },
      at: now.toISOString(),
    });
    expect(phaseEvents(job, {}, now)).toEqual([]);
  });
});
