import type { Db } from "@sloughgpt/db";
import type { monitoring } from "@sloughgpt/proto";
import { type Logger, type Metrics, unary } from "@sloughgpt/runtime";
import { type ComponentCheck, checkFleet } from "./fleet/fleet.js";
import { usageTotals } from "./usage/store.js";

export function monitoringHandlers(deps: {
  checks: ComponentCheck[];
  timeoutMs: number;
  db: Db;
  logger: Logger;
  metrics: Metrics;
}) {
  const env = { logger: deps.logger, metrics: deps.metrics, service: "MonitoringService" };
  const impl: monitoring.MonitoringServiceServer = {
    fleetStatus: unary<monitoring.FleetStatusRequest, monitoring.FleetStatusResponse>(
      env,
      "FleetStatus",
      async () => {
        const [components, usage] = await Promise.all([
          checkFleet(deps.checks, deps.timeoutMs),
          usageTotals(deps.db),
        ]);
        return {
          healthy: components.every((c) => c.healthy),
          components,
          usage,
          checkedUnixMs: Date.now(),
        };
      },
    ),
  };
  return impl;
}
