import { monitoring } from "@sloughgpt/proto";
import { statusView } from "./status.js";

const res = monitoring.FleetStatusResponse.fromPartial({
  healthy: false,
  checkedUnixMs: Date.parse("2026-12-06T10:00:00Z"),
  components: [
    {
      name: "serving",
      kind: "grpc",
      target: "10.0.0.7:50051",
      healthy: false,
      detail: "connect refused",
      latencyMs: 3,
    },
  ],
  usage: { requests: 12, promptTokens: 300, completionTokens: 90 },
});

describe("statusView", () => {
  it("shows admins addresses, details and the platform's usage totals", () => {
    expect(statusView(res, { role: "admin" })).toEqual({
      healthy: false,
      checked_at: "2026-12-06T10:00:00.000Z",
      components: [
        {
          name: "serving",
          kind: "grpc",
          healthy: false,
          target: "10.0.0.7:50051",
          detail: "connect refused",
          latency_ms: 3,
        },
      ],
      usage: { requests: 12, prompt_tokens: 300, completion_tokens: 90 },
    });
  });

  it.each(["ml-engineer", "viewer"] as const)(
    "shows a %s only what is healthy, not where or every team's usage",
    (role) => {
      expect(statusView(res, { role })).toEqual({
        healthy: false,
        checked_at: "2026-12-06T10:00:00.000Z",
        components: [{ name: "serving", kind: "grpc", healthy: false }],
      });
    },
  );
});
