import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type Db, openDatabase } from "@sloughgpt/db";
import fc from "fast-check";
import { type FilterInput, matchesFilter, parseFilter } from "../src/retrieval/filter.js";
import { compileFilter } from "../src/store/filter-sql.js";

let db: Db;

beforeAll(async () => {
  db = await openDatabase({});
}, 60_000);
afterAll(async () => db?.close());

const scalar = fc.oneof(fc.constantFrom("a", "b", "1"), fc.constantFrom(0, 1, 1.5), fc.boolean());
const key = fc.constantFrom("x", "y", "n.m");
const value = fc.oneof(
  scalar,
  fc.constant(null),
  fc.array(scalar, { maxLength: 2 }),
  fc.record({ m: scalar }),
);
const metadata = fc.record(
  { x: value, y: value, n: fc.oneof(value, fc.record({ m: value })) },
  { requiredKeys: [] },
);
const leaf: fc.Arbitrary<FilterInput> = fc.oneof(
  fc.tuple(key, scalar).map(([k, v]) => ({ [k]: v })),
  fc.tuple(key, scalar).map(([k, v]) => ({ [k]: { $eq: v } })),
  fc.tuple(key, fc.array(scalar, { minLength: 1, maxLength: 3 })).map(([k, vs]) => ({ [k]: { $in: vs } })),
);
const filter: fc.Arbitrary<FilterInput> = fc.letrec<{ f: FilterInput }>((tie) => ({
  f: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("f"), { minLength: 1, maxLength: 3 }).map(($and) => ({ $and })),
    fc.array(tie("f"), { minLength: 1, maxLength: 3 }).map(($or) => ({ $or })),
  ),
})).f;

describe("filters compiled to SQL", () => {
  test("select exactly the metadata the reference semantics match", async () => {
    await fc.assert(
      fc.asyncProperty(filter, fc.array(metadata, { minLength: 1, maxLength: 6 }), async (input, rows) => {
        const node = parseFilter(input);
        const params: unknown[] = [rows.map((r) => JSON.stringify(r))];
        const where = compileFilter(node, "m", params);
        const { rows: out } = await db.query<{ i: number }>(
          `SELECT (i - 1)::int AS i FROM unnest($1::jsonb[]) WITH ORDINALITY AS t(m, i) WHERE ${where} ORDER BY i`,
          params,
        );
        const expected = rows.flatMap((r, i) => (matchesFilter(node, r) ? [i] : []));
        expect(out.map((r) => r.i)).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
