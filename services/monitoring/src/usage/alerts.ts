import type { BudgetAlert } from "@sloughgpt/bus";
import type { Queryable } from "@sloughgpt/db";

/**
 * Records a budget alert once per (scope, subject, period, period start, threshold); true when this
 * crossing is new. The gateway's replicas each publish what they see, and JetStream deduplicates
 * only within its window, so the ledger is where "once" is decided.
 */
export async function rememberBudgetAlert(db: Queryable, a: BudgetAlert): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO monitoring.budget_alerts
       (scope, subject, period, period_start, threshold, team, budget_usd, spent_usd)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT DO NOTHING
     RETURNING 1`,
    [a.scope, a.subject, a.period, a.periodStart, a.threshold, a.team, a.budgetUsd, a.spentUsd],
  );
  return rows.length === 1;
}
