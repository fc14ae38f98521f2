import { InvalidArgumentError } from "@sloughgpt/runtime";
import { z } from "zod";

/**
 * The metadata filter language, shared by every index (Postgres lexical, pgvector, Qdrant):
 *
 *   Filter    := { "$and": [Filter, ...] } | { "$or": [Filter, ...] } | { <field>: Condition, ... }
 *   Condition := Scalar | { "$eq": Scalar } | { "$in": [Scalar, ...] }
 *
 * Several fields in one object must all hold. A field is a key of the document's metadata, or a
 * dotted path into nested objects (`source.kind`); it cannot start with `$`. Equality is JSON
 * equality of a scalar (1 and 1.0 are equal, "1" and 1 are not); a field holding an array or an
 * object never equals a scalar, and a missing field matches nothing.
 */
export type Scalar = string | number | boolean;

export type FilterNode =
  | { kind: "eq"; path: string[]; value: Scalar }
  | { kind: "in"; path: string[]; values: Scalar[] }
  | { kind: "and"; children: FilterNode[] }
  | { kind: "or"; children: FilterNode[] };

/** Bounds keep compiled filters small: a filter is a request parameter, not a program. */
export const FILTER_LIMITS = { depth: 8, conditions: 256, inValues: 1024 } as const;

const scalar = z.union([z.string().max(4096), z.number().finite(), z.boolean()]);
const field = z
  .string()
  .min(1)
  .max(256)
  .refine((f) => !f.startsWith("$"), "field names cannot start with '$' (operators are $and, $or, $eq, $in)")
  .refine((f) => f.split(".").every((part) => part.length > 0), "a dotted field path has an empty part");
const condition = z.union([
  scalar,
  z.strictObject({ $eq: scalar }),
  z.strictObject({ $in: z.array(scalar).min(1).max(FILTER_LIMITS.inValues) }),
]);

export type FilterInput =
  | { $and: FilterInput[] }
  | { $or: FilterInput[] }
  | Record<string, z.infer<typeof condition>>;

export const filterSchema: z.ZodType<FilterInput> = z.lazy(() =>
  z.union([
    z.strictObject({ $and: z.array(filterSchema).min(1).max(FILTER_LIMITS.conditions) }),
    z.strictObject({ $or: z.array(filterSchema).min(1).max(FILTER_LIMITS.conditions) }),
    z
      .record(field, condition)
      .refine((r) => Object.keys(r).length > 0, "a filter needs at least one field or operator"),
  ]),
);

export class FilterError extends InvalidArgumentError {
  constructor(message: string) {
    super(message, { param: "filter" });
  }
}

/** Validates a filter (see the grammar above) and turns it into the tree every index compiles. */
export function parseFilter(input: unknown): FilterNode {
  // Checked before zod walks the input, so a hostile nesting never reaches a deep recursion.
  if (nesting(input, 2 * FILTER_LIMITS.depth + 2) > 2 * FILTER_LIMITS.depth + 1)
    throw new FilterError(`filter nests deeper than ${FILTER_LIMITS.depth} levels`);
  const node = toNode(filterSchema.parse(input));
  const shape = measure(node);
  if (shape.depth > FILTER_LIMITS.depth)
    throw new FilterError(`filter nests deeper than ${FILTER_LIMITS.depth} levels`);
  if (shape.conditions > FILTER_LIMITS.conditions)
    throw new FilterError(`filter has more than ${FILTER_LIMITS.conditions} conditions`);
  return node;
}

function toNode(input: FilterInput): FilterNode {
  if ("$and" in input && Array.isArray(input.$and)) return { kind: "and", children: input.$and.map(toNode) };
  if ("$or" in input && Array.isArray(input.$or)) return { kind: "or", children: input.$or.map(toNode) };
  const leaves = Object.entries(input as Record<string, z.infer<typeof condition>>).map(([key, c]) =>
    toLeaf(key.split("."), c),
  );
  return leaves.length === 1 ? leaves[0]! : { kind: "and", children: leaves };
}

function toLeaf(path: string[], c: z.infer<typeof condition>): FilterNode {
  if (typeof c !== "object") return { kind: "eq", path, value: c };
  if ("$eq" in c) return { kind: "eq", path, value: c.$eq };
  return { kind: "in", path, values: c.$in };
}

/** JSON nesting of `v`, counted no further than `limit`. */
function nesting(v: unknown, limit: number): number {
  if (limit <= 0 || v === null || typeof v !== "object") return 0;
  let most = 0;
  for (const child of Object.values(v)) most = Math.max(most, nesting(child, limit - 1));
  return 1 + most;
}

function measure(node: FilterNode): { depth: number; conditions: number } {
  if (node.kind === "eq" || node.kind === "in") return { depth: 1, conditions: 1 };
  const parts = node.children.map(measure);
  return {
    depth: 1 + Math.max(...parts.map((p) => p.depth)),
    conditions: parts.reduce((n, p) => n + p.conditions, 0),
  };
}

/** The reference semantics: what every compiled form must agree with. */
export function matchesFilter(node: FilterNode, metadata: Record<string, unknown>): boolean {
  switch (node.kind) {
    case "eq":
      return scalarEquals(valueAt(metadata, node.path), node.value);
    case "in": {
      const v = valueAt(metadata, node.path);
      return node.values.some((x) => scalarEquals(v, x));
    }
    case "and":
      return node.children.every((c) => matchesFilter(c, metadata));
    case "or":
      return node.children.some((c) => matchesFilter(c, metadata));
  }
}

function valueAt(metadata: Record<string, unknown>, path: string[]): unknown {
  let v: unknown = metadata;
  for (const key of path) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

function scalarEquals(v: unknown, x: Scalar): boolean {
  return typeof v === typeof x && v === x;
}
