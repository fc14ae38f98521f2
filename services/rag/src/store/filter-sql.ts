import type { FilterNode, Scalar } from "../retrieval/filter.js";

/**
 * Compiles a filter to a SQL condition on a jsonb column. Values and field names travel only as
 * bind parameters (appended to `params`); the SQL text holds nothing but `column`, operators and
 * placeholders. Each leaf is a jsonb containment test (`metadata @> '{"a":{"b":1}}'`), which a GIN
 * `jsonb_path_ops` index answers; for scalar values containment is exactly the filter's equality.
 *
 * `column` must be a trusted SQL expression written in code, never input.
 */
export function compileFilter(node: FilterNode, column: string, params: unknown[]): string {
  switch (node.kind) {
    case "eq":
      params.push(JSON.stringify(nest(node.path, node.value)));
      return `${column} @> $${params.length}::jsonb`;
    case "in":
      params.push(node.values.map((v) => JSON.stringify(nest(node.path, v))));
      return `${column} @> ANY($${params.length}::jsonb[])`;
    case "and":
    case "or": {
      const parts = node.children.map((c) => `(${compileFilter(c, column, params)})`);
      return parts.join(node.kind === "and" ? " AND " : " OR ");
    }
  }
}

function nest(path: string[], value: Scalar): unknown {
  return path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
}
