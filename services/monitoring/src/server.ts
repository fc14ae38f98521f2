import type { Queryable } from "@sloughgpt/db";
import type { monitoring } from "@sloughgpt/proto";
import { type Logger, type Metrics, serverStream, unary } from "@sloughgpt/runtime";
import { parseExportUsage, parseGetSpend, parseQueryUsage } from "./api/requests.js";
import { type ComponentCheck, checkFleet } from "./fleet/fleet.js";
import type { IngestState } from "./ingest/usage-ingest.js";
import { type ExportPage, exportUsage } from "./usage/export.js";
import { getSpend, queryUsage, type Spend, type UsageRow } from "./usage/reports.js";
import { usageTotals } from "./usage/store.js";

function usageRowMessage(r: UsageRow): monitoring.UsageRow {
  return { team: "", keyId: "", model: "", day: "", ...r };
}

function exportMessage(page: ExportPage): monitoring.ExportUsageResponse {
  return page.kind === "records"
    ? { records: page.rows, daily: [], nextPageToken: "" }
    : { records: [], daily: page.rows.map(usageRowMessage), nextPageToken: "" };
}

const spendMessage = (s: Spend | undefined): monitoring.Spend | undefined => s && { ...s };

export function monitoringHandlers(deps: {
  checks: ComponentCheck[];
  timeoutMs: number;
  db: Queryable;
  ingest: IngestState;
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

    queryUsage: unary<monitoring.QueryUsageRequest, monitoring.QueryUsageResponse>(
      env,
      "QueryUsage",
      async (req) => {
        const q = parseQueryUsage(req);
        const res = await queryUsage(deps.db, q);
        return {
          rows: res.rows.map(usageRowMessage),
          truncated: res.truncated,
          from: new Date(q.fromMs).toISOString(),
          to: new Date(q.toMs).toISOString(),
        };
      },
    ),

    exportUsage: serverStream<monitoring.ExportUsageRequest, monitoring.ExportUsageResponse>(
      env,
      "ExportUsage",
      async (req, write, ctx) => {
        const q = parseExportUsage(req);
        const next = await exportUsage(deps.db, q, ctx.signal, (page) => write(exportMessage(page)));
        if (next) await write({ records: [], daily: [], nextPageToken: next });
      },
    ),

    getSpend: unary<monitoring.GetSpendRequest, monitoring.GetSpendResponse>(env, "GetSpend", async (req) => {
      const q = parseGetSpend(req);
      const s = await getSpend(deps.db, q);
      return {
        key: spendMessage(s.key),
        team: spendMessage(s.team),
        periodStart: new Date(s.periodStartMs).toISOString(),
        periodEnd: new Date(s.periodEndMs).toISOString(),
        backlogEvents: deps.ingest.backlogEvents,
        ingestedUnixMs: deps.ingest.ingestedUnixMs,
      };
    }),
  };
  return impl;
}
