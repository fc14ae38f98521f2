import { createLogger, createMetrics } from "@sloughgpt/runtime";
import { budgetAlertHandler } from "./budget-alerts.js";

describe("budgetAlertHandler", () => {
  it("counts each new crossing by scope, threshold and period, and repeats not at all", async () => {
    const metrics = createMetrics("monitoring-test");
    const seen = new Set<string>();
    const isNew = async (a: { scope: string; subject: string; threshold: number }) => {
      const id = `${a.scope}:${a.subject}:${a.threshold}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    };
    const handle = budgetAlertHandler({
      metrics,
      logger: createLogger({ service: "t", level: "silent" }),
      isNew,
    });
    const alert = {
      scope: "team" as const,
      subject: "research",
      team: "research",
      threshold: 0.8,
      budgetUsd: 100,
      spentUsd: "80.00",
      period: "monthly" as const,
      periodStart: "2026-12-01T00:00:00.000Z",
      at: "2026-12-06T10:00:00.000Z",
    };
    await handle(alert);
    await handle({ ...alert, threshold: 1, spentUsd: "100.00" });
    await handle({ ...alert, scope: "key", subject: "k1" });
    // A repeat of a crossing already seen (another replica, a restart) is not counted again.
    await handle({ ...alert, at: "2026-12-06T11:00:00.000Z" });
    const counted = await metrics.registry.getSingleMetric("sloughgpt_budget_alerts_total")?.get();
    expect(counted?.values.map((v) => [v.labels, v.value])).toEqual([
      [{ scope: "team", threshold: "0.8", period: "monthly" }, 1],
      [{ scope: "team", threshold: "1", period: "monthly" }, 1],
      [{ scope: "key", threshold: "0.8", period: "monthly" }, 1],
    ]);
  });
});
