import { mkdir } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";

export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
  ): Promise<{ rows: R[] }>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  kind: "postgres" | "pglite";
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * A Postgres server when `url` is set, embedded PGlite otherwise (in `dataDir`, or in memory
 * for `memory://`). Both speak the same SQL, so services and tests don't care which.
 */
export async function openDatabase(opts: {
  url?: string | undefined;
  dataDir?: string;
  maxConnections?: number;
  /** A server that does not complete a connection within this fails the query (default 5 s). */
  connectTimeoutMs?: number;
  /** A query without an answer within this fails (default 60 s): a hung server is an error, not a wait. */
  queryTimeoutMs?: number;
}): Promise<Db> {
  if (opts.url) {
    return openPool(opts.url, {
      max: opts.maxConnections ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      query_timeout: opts.queryTimeoutMs ?? 60_000,
    });
  }
  return openPglite(opts.dataDir ?? "memory://");
}

function openPool(
  url: string,
  limits: { max: number; connectionTimeoutMillis: number; query_timeout: number },
): Db {
  const pool = new pg.Pool({ connectionString: url, ...limits });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  const q: Queryable = {
    query: async (sql, params) => pool.query(sql, params as unknown[]),
    exec: async (sql) => {
      await pool.query(sql);
    },
  };
  return {
    kind: "postgres",
    ...q,
    async transaction(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const tx: Queryable = {
          query: async (sql, params) => client.query(sql, params as unknown[]),
          exec: async (sql) => {
            await client.query(sql);
          },
        };
        const result = await fn(tx);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch((e: Error) => {
          broken = e;
        });
        throw err;
      } finally {
        // A connection that could not roll back is discarded, not reused.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

async function openPglite(dataDir: string): Promise<Db> {
  if (!dataDir.startsWith("memory://")) await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  const wrap = (t: Pick<PGlite, "query" | "exec">): Queryable => ({
    query: async <R>(sql: string, params?: unknown[]) => {
      const res = await t.query<R>(sql, params);
      return { rows: res.rows };
    },
    exec: async (sql) => {
      await t.exec(sql);
    },
  });
  return {
    kind: "pglite",
    ...wrap(db),
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    close: () => db.close(),
  };
}
