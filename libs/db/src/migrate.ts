import type { Db } from "./db.js";

export interface Migration {
  /** Sortable, unique and never renamed, e.g. `0001_collections`. */
  id: string;
  sql: string;
}

/**
 * Applies pending migrations of one schema in order, in one transaction (all or nothing).
 * An advisory lock keyed by the schema serialises replicas starting at once.
 */
export async function migrate(db: Db, schema: string, migrations: Migration[]): Promise<string[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`);
  const ids = migrations.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error(`duplicate migration id in ${schema}`);
  return db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`migrate:${schema}`]);
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${schema};
      CREATE TABLE IF NOT EXISTS ${schema}._migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ id: string }>(`SELECT id FROM ${schema}._migrations`);
    const done = new Set(rows.map((r) => r.id));
    const applied: string[] = [];
    for (const m of [...migrations].sort((a, b) => a.id.localeCompare(b.id))) {
      if (done.has(m.id)) continue;
      await tx.exec(m.sql);
      await tx.query(`INSERT INTO ${schema}._migrations (id) VALUES ($1)`, [m.id]);
      applied.push(m.id);
    }
    return applied;
  });
}
