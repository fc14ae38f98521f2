import { type Db, migrate, openDatabase } from "@sloughgpt/db";
import { migrations } from "./migrations.js";
import type { QdrantVectors } from "./qdrant.js";
import { RagStore } from "./store.js";

/** Opens Postgres (`url`) or PGlite (`dataDir`, default in memory), migrates schema `rag`, wraps it. */
export async function openRagStore(
  opts: { url?: string | undefined; dataDir?: string; qdrant?: QdrantVectors } = {},
): Promise<{
  db: Db;
  store: RagStore;
}> {
  const db = await openDatabase(opts);
  try {
    await migrate(db, "rag", migrations);
  } catch (error) {
    await db.close();
    throw error;
  }
  return { db, store: new RagStore(db, opts.qdrant) };
}
