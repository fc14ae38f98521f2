import { z } from "zod";

/** UTC calendar arithmetic for the ledger: days and months never depend on the process time zone. */

export const DAY_MS = 86_400_000;

export type SpendPeriod = "daily" | "monthly";

/** `YYYY-MM-DD` of the UTC day containing `ms`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Midnight UTC at the start of `day`. */
export function dayStartMs(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** The period containing `atMs`, as the half-open interval [start, end). */
export function periodBounds(period: SpendPeriod, atMs: number): { start: number; end: number } {
  const d = new Date(atMs);
  const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()];
  return period === "daily"
    ? { start: Date.UTC(y, m, day), end: Date.UTC(y, m, day + 1) }
    : { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
}

const isoDate = z.iso.date();
const isoInstant = z.iso.datetime({ offset: true });

/** A UTC calendar date that exists (zod checks the shape, the round trip checks Feb 30). */
function isRealDate(s: string): boolean {
  return isoDate.safeParse(s).success && utcDay(dayStartMs(s)) === s;
}

/**
 * One end of a range: a date means that whole UTC day (`from` starts at its midnight, `to` ends at
 * the next), an RFC 3339 instant means itself. Returns epoch ms, or undefined when malformed.
 */
export function parseBound(value: string, edge: "from" | "to"): number | undefined {
  if (isRealDate(value)) return dayStartMs(value) + (edge === "to" ? DAY_MS : 0);
  if (!isoInstant.safeParse(value).success) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** An RFC 3339 instant that is a real moment, for `at`-style fields. */
export function parseInstant(value: string): number | undefined {
  if (!isoInstant.safeParse(value).success) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export interface RangePlan {
  /** Whole UTC days answered from the rollups: [from, to) as dates; absent when there are none. */
  days?: { from: string; to: string };
  /** Partial days at the edges, answered from raw records: [from, to) in epoch ms. */
  raw: { from: number; to: number }[];
}

/**
 * Splits [fromMs, toMs) into the whole UTC days inside it and the partial days at its ends, so a
 * report reads rollups for the bulk and at most two days of raw records for exact edges.
 */
export function splitRange(fromMs: number, toMs: number): RangePlan {
  const firstWhole = Math.ceil(fromMs / DAY_MS) * DAY_MS;
  const endWhole = Math.floor(toMs / DAY_MS) * DAY_MS;
  if (firstWhole >= endWhole) return { raw: fromMs < toMs ? [{ from: fromMs, to: toMs }] : [] };
  const raw = [
    { from: fromMs, to: firstWhole },
    { from: endWhole, to: toMs },
  ].filter((r) => r.from < r.to);
  return { days: { from: utcDay(firstWhole), to: utcDay(endWhole) }, raw };
}

/** Whether [fromMs, toMs) starts and ends on UTC midnights. */
export function isWholeDays(fromMs: number, toMs: number): boolean {
  return fromMs % DAY_MS === 0 && toMs % DAY_MS === 0;
}
