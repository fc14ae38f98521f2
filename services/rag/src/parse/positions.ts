import { z } from "zod";
import type { Mark } from "./builder.js";

/**
 * The document metadata key that keeps its chunks' positions. A filter field cannot start with `$`,
 * so it is never matched by filters; it is taken out of the metadata that searches return.
 */
export const POSITIONS_KEY = "$positions";

/** Where a chunk comes from, for citations. */
export interface Position {
  page?: number;
  heading?: string;
}

/** The position of chunks `chunk`, `chunk + 1`, … up to the next run's first chunk. */
export interface PositionRun extends Position {
  chunk: number;
}

const runs = z.array(
  z.object({
    chunk: z.number().int().min(0),
    page: z.number().int().min(1).optional(),
    heading: z.string().optional(),
  }),
);

/**
 * Each chunk's position (the page and heading in force where it starts), as runs of chunks that
 * share one: a 300-page PDF stores about 300 entries, not one per chunk. `starts` are the chunks'
 * offsets, in order. Pure.
 */
export function chunkPositions(marks: readonly Mark[], starts: readonly number[]): PositionRun[] {
  const out: PositionRun[] = [];
  const current: Position = {};
  let m = 0;
  starts.forEach((start, chunk) => {
    for (; m < marks.length && (marks[m]?.at ?? Infinity) <= start; m++) {
      const { at: _, ...fields } = marks[m] as Mark;
      Object.assign(current, fields);
    }
    const last = out[out.length - 1];
    if (!last || last.page !== current.page || last.heading !== current.heading)
      out.push({ chunk, ...current });
  });
  // Positions only accumulate, so only a leading run can be empty (text before the first mark).
  return out.filter((r) => r.page !== undefined || r.heading !== undefined);
}

/** A hit's document metadata without the positions, and the position of its chunk `index`. */
export function positionOf(
  metadata: Record<string, unknown>,
  index: number,
): { metadata: Record<string, unknown>; position: Position } {
  if (!(POSITIONS_KEY in metadata)) return { metadata, position: {} };
  const { [POSITIONS_KEY]: stored, ...rest } = metadata;
  const parsed = runs.safeParse(stored);
  if (!parsed.success) return { metadata: rest, position: {} };
  let found: PositionRun | undefined;
  for (const r of parsed.data) {
    if (r.chunk > index) break;
    found = r;
  }
  const position: Position = {};
  if (found?.page !== undefined) position.page = found.page;
  if (found?.heading !== undefined) position.heading = found.heading;
  return { metadata: rest, position };
}
