import type { Queryable } from "@sloughgpt/db";
import { z } from "zod";
import {
  type Cursor,
  dailyPage,
  type PageQuery,
  recordsPage,
  type UsageRecordRow,
  type UsageRow,
} from "./reports.js";

export const EXPORT_PAGE_SIZE = 1000;

export type ExportKind = Cursor["kind"];

export class InvalidPageTokenError extends Error {
  constructor() {
    super("page_token is not a token this export returned");
    this.name = "InvalidPageTokenError";
  }
}

const cursorSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("records"), after: z.tuple([z.iso.datetime(), z.string()]) }),
  z.object({ kind: z.literal("daily"), after: z.tuple([z.iso.date(), z.string(), z.string(), z.string()]) }),
]);

/** Opaque to clients: base64url JSON of the position after the last row sent. */
export function encodePageToken(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

export function decodePageToken(token: string, kind: ExportKind): Cursor {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new InvalidPageTokenError();
  }
  const parsed = cursorSchema.safeParse(raw);
  if (!parsed.success || parsed.data.kind !== kind) throw new InvalidPageTokenError();
  return parsed.data;
}

interface Pager<T> {
  fetch(after: Cursor["after"] | undefined, size: number): Promise<T[]>;
  cursorOf(row: T): Cursor["after"];
}

/**
 * Sends pages until the data or `limit` runs out, awaiting each `emit` (back-pressure) and stopping
 * when `signal` aborts. The last page is read one row long to tell "limit reached" from "done":
 * returns where to continue, or undefined when everything was sent.
 */
export async function sendPages<T>(
  pager: Pager<T>,
  opts: { limit: number; after?: Cursor["after"] | undefined; signal: AbortSignal },
  emit: (rows: T[]) => Promise<void>,
): Promise<Cursor["after"] | undefined> {
  let after = opts.after;
  for (let sent = 0; sent < opts.limit && !opts.signal.aborted; ) {
    const want = Math.min(EXPORT_PAGE_SIZE, opts.limit - sent);
    const last = sent + want === opts.limit;
    const rows = await pager.fetch(after, last ? want + 1 : want);
    const page = rows.slice(0, want);
    if (page.length > 0) {
      await emit(page);
      after = pager.cursorOf(page[page.length - 1] as T);
    }
    sent += page.length;
    if (rows.length <= want && (last || page.length < want)) return undefined;
    if (last) return after;
  }
  return undefined;
}

export interface ExportQuery extends Omit<PageQuery, "pageSize" | "after"> {
  kind: ExportKind;
  limit: number;
  after?: Cursor | undefined;
}

export type ExportPage = { kind: "records"; rows: UsageRecordRow[] } | { kind: "daily"; rows: UsageRow[] };

/** Streams an export as pages; returns the page token to continue with, if `limit` cut it short. */
export async function exportUsage(
  db: Queryable,
  q: ExportQuery,
  signal: AbortSignal,
  emit: (page: ExportPage) => Promise<void>,
): Promise<string | undefined> {
  const opts = { limit: q.limit, after: q.after?.after, signal };
  if (q.kind === "records") {
    const next = await sendPages<UsageRecordRow>(
      {
        fetch: (after, pageSize) => recordsPage(db, { ...q, after, pageSize }),
        cursorOf: (r) => [r.finishedAt, r.id],
      },
      opts,
      (rows) => emit({ kind: "records", rows }),
    );
    return next && encodePageToken({ kind: "records", after: next as [string, string] });
  }
  const next = await sendPages<UsageRow>(
    {
      fetch: (after, pageSize) => dailyPage(db, { ...q, after, pageSize }),
      cursorOf: (r) => [r.day ?? "", r.team ?? "", r.keyId ?? "", r.model ?? ""],
    },
    opts,
    (rows) => emit({ kind: "daily", rows }),
  );
  return next && encodePageToken({ kind: "daily", after: next as [string, string, string, string] });
}
