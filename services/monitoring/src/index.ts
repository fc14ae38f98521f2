// The usage ledger as a library, for tools that drive it without the service (bench/usage).
export type { UsageEvent } from "@sloughgpt/bus";
export { loadPriceTable, type PriceTable, parsePriceTable } from "./usage/pricing.js";
export { type LedgerRecord, toLedgerRecord } from "./usage/record.js";
export { type GroupBy, queryUsage, type UsageQuery, type UsageRow, usageReportSql } from "./usage/reports.js";
export { migrations, recordUsage, usageTotals } from "./usage/store.js";
