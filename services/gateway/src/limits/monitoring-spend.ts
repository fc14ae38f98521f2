import { monitoring } from "@sloughgpt/proto";
import { callUnary } from "@sloughgpt/runtime";
import type { ScopeSpend } from "./budget.js";
import type { SpendReader } from "./gate.js";

const PERIODS = {
  daily: monitoring.SpendPeriod.SPEND_PERIOD_DAILY,
  monthly: monitoring.SpendPeriod.SPEND_PERIOD_MONTHLY,
} as const;

/** Spend from the monitoring ledger (`GetSpend`: two primary-key reads), bounded by `timeoutMs`. */
export function monitoringSpend(client: monitoring.MonitoringServiceClient, timeoutMs: number): SpendReader {
  return async (who, period) => {
    const res = await callUnary(
      client.getSpend.bind(client),
      { keyId: who.keyId ?? "", team: who.team ?? "", period: PERIODS[period], at: "" },
      { deadlineMs: timeoutMs },
    );
    const spend = (s: monitoring.Spend | undefined): ScopeSpend | undefined =>
      s && { spentUsd: s.costUsd || "0", periodStart: res.periodStart, periodEnd: res.periodEnd };
    const key = who.keyId ? spend(res.key) : undefined;
    const team = who.team ? spend(res.team) : undefined;
    return { ...(key ? { key } : {}), ...(team ? { team } : {}) };
  };
}
