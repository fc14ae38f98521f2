/** A plain text table: a header row, then one row per record; missing values print as "-". */
export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown) => (v === undefined || v === null || v === "" ? "-" : String(v));
  const grid = [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...grid.map((row) => row[i]?.length ?? 0)));
  return grid
    .map((row) =>
      row
        .map((v, i) => v.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
