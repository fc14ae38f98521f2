import type { BudgetAlert } from "@sloughgpt/bus";
import { Counter, type Logger, type Metrics } from "@sloughgpt/runtime";

/**
 * Turns the gateway's budget alerts into what operators watch: a Prometheus counter by scope and
 * threshold (alert on `increase(sloughgpt_budget_alerts_total[5m]) > 0`) and a log line naming the
 * key or team. The subject stays out of the labels: keys are unbounded.
 */
export function budgetAlertHandler(deps: {
  metrics: Metrics;
  logger: Logger;
  /** True the first time a crossing is seen (rememberBudgetAlert); repeats are not counted again. */
  isNew: (alert: BudgetAlert) => Promise<boolean>;
}): (alert: BudgetAlert) => Promise<void> {
  const alerts = new Counter({
    name: "sloughgpt_budget_alerts_total",
    help: "Budgets that crossed a share of their amount (0.8: soft limit, 1: spent), by scope and period.",
    labelNames: ["scope", "threshold", "period"] as const,
    registers: [deps.metrics.registry],
  });
  return async (a) => {
    if (!(await deps.isNew(a))) return;
    alerts.inc({ scope: a.scope, threshold: String(a.threshold), period: a.period });
    deps.logger.warn(
      {
        scope: a.scope,
        subject: a.subject,
        team: a.team,
        threshold: a.threshold,
        spentUsd: a.spentUsd,
        budgetUsd: a.budgetUsd,
        period: a.period,
        periodStart: a.periodStart,
      },
      a.threshold >= 1 ? "Spent a budget" : "Crossed a budget's soft limit",
    );
  };
}
