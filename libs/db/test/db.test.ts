import { type AddressInfo, createServer, type Socket } from "node:net";
import { jest } from "@jest/globals";
import { type Db, type Migration, migrate, openDatabase } from "@sloughgpt/db";
import { createTestDatabase, type TestDatabase } from "@sloughgpt/testing";

jest.setTimeout(30_000);

interface Backend {
  name: string;
  open(): Promise<{ db: Db; cleanup(): Promise<void> }>;
}

const pglite: Backend = {
  name: "PGlite in memory",
  async open() {
    const db = await openDatabase({});
    return { db, cleanup: () => db.close() };
  },
};

const postgres: Backend = {
  name: "a Postgres server",
  async open() {
    const testDb = await createTestDatabase();
    const db = await openDatabase({ url: testDb.url });
    return {
      db,
      async cleanup() {
        await db.close();
        await testDb.drop();
      },
    };
  },
};

let schemaCount = 0;
/** A schema name no other test uses. */
const freshSchema = () => `s${process.pid}_${++schemaCount}`;

const tableExists = async (db: Db, table: string) => {
  const { rows } = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [table]);
  return rows[0]?.t !== null;
};

const appliedIds = async (db: Db, schema: string) =>
  (await db.query<{ id: string }>(`SELECT id FROM ${schema}._migrations ORDER BY id`)).rows.map((r) => r.id);

describe.each([pglite, postgres])("openDatabase on $name", (backend) => {
  let db: Db;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ db, cleanup } = await backend.open());
    await db.exec("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)");
  });

  afterAll(async () => {
    await cleanup?.();
  });

  it("binds query parameters as values, never as SQL", async () => {
    const sneaky = "x'); DROP TABLE items; --";
    await db.query("INSERT INTO items (id, name) VALUES ($1, $2)", [1, sneaky]);

    const { rows } = await db.query<{ name: string; sum: number }>(
      "SELECT name, $2::int + $3::int AS sum FROM items WHERE id = $1",
      [1, 2, 3],
    );

    expect(rows).toEqual([{ name: sneaky, sum: 5 }]);
  });

  it("commits a transaction and returns its result", async () => {
    const result = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO items (id, name) VALUES ($1, $2)", [10, "committed"]);
      await tx.exec("INSERT INTO items (id, name) VALUES (11, 'also committed')");
      return "done";
    });

    const { rows } = await db.query("SELECT id FROM items WHERE id IN (10, 11) ORDER BY id");
    expect(result).toBe("done");
    expect(rows).toEqual([{ id: 10 }, { id: 11 }]);
  });

  it("rolls a transaction back when its function throws, and rethrows", async () => {
    const failing = db.transaction(async (tx) => {
      await tx.query("INSERT INTO items (id, name) VALUES ($1, $2)", [20, "rolled back"]);
      throw new Error("payment declined");
    });

    await expect(failing).rejects.toThrow("payment declined");
    const { rows } = await db.query("SELECT id FROM items WHERE id = 20");
    expect(rows).toEqual([]);
  });

  it("applies migrations in id order, records them, and applies nothing the second time", async () => {
    const schema = freshSchema();
    const migrations: Migration[] = [
      { id: "0002_add_owner", sql: `ALTER TABLE ${schema}.docs ADD COLUMN owner text` },
      { id: "0001_docs", sql: `CREATE TABLE ${schema}.docs (id int PRIMARY KEY)` },
    ];

    const first = await migrate(db, schema, migrations);
    const second = await migrate(db, schema, migrations);
    const third = await migrate(db, schema, [
      ...migrations,
      { id: "0003_seed", sql: `INSERT INTO ${schema}.docs (id, owner) VALUES (1, 'alice')` },
    ]);

    expect(first).toEqual(["0001_docs", "0002_add_owner"]);
    expect(second).toEqual([]);
    expect(third).toEqual(["0003_seed"]);
    expect(await appliedIds(db, schema)).toEqual(["0001_docs", "0002_add_owner", "0003_seed"]);
    const { rows } = await db.query(`SELECT id, owner FROM ${schema}.docs`);
    expect(rows).toEqual([{ id: 1, owner: "alice" }]);
  });

  it("applies none of a batch when one migration fails, and reports the error", async () => {
    const schema = freshSchema();
    const good: Migration = { id: "0001_docs", sql: `CREATE TABLE ${schema}.docs (id int PRIMARY KEY)` };
    const bad: Migration = {
      id: "0002_broken",
      sql: `ALTER TABLE ${schema}.docs ADD COLUMN oops nonexistent_type`,
    };

    await expect(migrate(db, schema, [good, bad])).rejects.toThrow(/nonexistent_type/);

    expect(await tableExists(db, `${schema}.docs`)).toBe(false);
    expect(await tableExists(db, `${schema}._migrations`)).toBe(false);
    const fixed = await migrate(db, schema, [
      good,
      { ...bad, sql: `ALTER TABLE ${schema}.docs ADD COLUMN ok text` },
    ]);
    expect(fixed).toEqual(["0001_docs", "0002_broken"]);
  });

  it.each(["Public", "my-schema", "x; DROP TABLE items", "1abc", ""])(
    "rejects the invalid schema name %j without touching the database",
    async (schema) => {
      const create: Migration = { id: "0001_t", sql: "CREATE TABLE should_not_exist (id int)" };

      await expect(migrate(db, schema, [create])).rejects.toThrow(/invalid schema name/);
      expect(await tableExists(db, "should_not_exist")).toBe(false);
      expect(await tableExists(db, "items")).toBe(true);
    },
  );

  it("rejects duplicate migration ids without applying any", async () => {
    const schema = freshSchema();
    const migrations: Migration[] = [
      { id: "0001_docs", sql: `CREATE TABLE ${schema}.docs (id int)` },
      { id: "0001_docs", sql: `CREATE TABLE ${schema}.other (id int)` },
    ];

    await expect(migrate(db, schema, migrations)).rejects.toThrow(/duplicate migration id/);
    expect(await tableExists(db, `${schema}.docs`)).toBe(false);
    expect(await tableExists(db, `${schema}._migrations`)).toBe(false);
  });
});

describe("migrate on a Postgres server shared by replicas", () => {
  let testDb: TestDatabase;
  let replicas: Db[] = [];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    replicas = await Promise.all([openDatabase({ url: testDb.url }), openDatabase({ url: testDb.url })]);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await testDb?.drop();
  });

  it("applies each migration exactly once when two replicas start at the same time", async () => {
    const schema = "billing";
    const migrations: Migration[] = [
      { id: "0001_ledger", sql: `CREATE TABLE ${schema}.ledger (id serial PRIMARY KEY, note text)` },
      { id: "0002_opening_entry", sql: `INSERT INTO ${schema}.ledger (note) VALUES ('opening')` },
      // Holds the first replica inside its transaction long enough for the second to arrive.
      { id: "0003_slow", sql: "SELECT pg_sleep(0.3)" },
    ];

    const results = await Promise.all(replicas.map((r) => migrate(r, schema, migrations)));

    expect(results.map((r) => r.length).sort()).toEqual([0, 3]);
    expect(results.flat()).toEqual(["0001_ledger", "0002_opening_entry", "0003_slow"]);
    const [first] = replicas as [Db];
    expect(await appliedIds(first, schema)).toEqual(["0001_ledger", "0002_opening_entry", "0003_slow"]);
    const { rows } = await first.query(`SELECT note FROM ${schema}.ledger`);
    expect(rows).toEqual([{ note: "opening" }]);
  });
});

describe("a Postgres server that stops answering", () => {
  it("fails the query within the connect timeout instead of hanging", async () => {
    // Accepts connections and never says a word, like a server behind a network partition.
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const { port } = silent.address() as AddressInfo;
    const db = await openDatabase({ url: `postgres://u@127.0.0.1:${port}/db`, connectTimeoutMs: 300 });
    try {
      // Without the timeout this would wait for the test's own limit and fail there.
      await expect(db.query("SELECT 1")).rejects.toThrow(/timeout/i);
    } finally {
      await db.close();
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
