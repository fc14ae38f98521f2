import { type Db, migrate, openDatabase } from "@sloughgpt/db";
import { auditMigrations } from "./audit/migrations.js";
import { identityMigrations } from "./identity/migrations.js";

export const gatewayMigrations = [...identityMigrations, ...auditMigrations];

/** Opens Postgres (`url`) or PGlite (`dataDir`, default in memory) and migrates schema `gateway`. */
export async function openGatewayDatabase(
  opts: { url?: string | undefined; dataDir?: string } = {},
): Promise<Db> {
  const db = await openDatabase(opts);
  try {
    await migrate(db, "gateway", gatewayMigrations);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
