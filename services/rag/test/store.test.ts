import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import type { Db } from "@sloughgpt/db";
import { createTestDatabase, type TestDatabase } from "@sloughgpt/testing";
import type { Embedder } from "../src/embedding/embedder.js";
import { EmbeddingIndex } from "../src/retrieval/dense.js";
import { parseFilter } from "../src/retrieval/filter.js";
import { Retriever } from "../src/retrieval/retriever.js";
import { ingestDocuments } from "../src/store/ingest.js";
import { openRagStore } from "../src/store/open.js";
import { type CollectionRow, RagStore } from "../src/store/store.js";

type Backend = { name: string; open(): Promise<{ db: Db; store: RagStore; done(): Promise<void> }> };

async function allVisiblePages(db: Db): Promise<number> {
  const { rows } = await db.query<{ pages: number }>(
    "SELECT relallvisible::int AS pages FROM pg_class WHERE oid = 'rag.postings'::regclass",
  );
  return rows[0]?.pages ?? 0;
}

const backends: Backend[] = [
  {
    name: "PGlite",
    async open() {
      const { db, store } = await openRagStore();
      return { db, store, done: () => db.close() };
    },
  },
  {
    name: "Postgres",
    async open() {
      const tdb: TestDatabase = await createTestDatabase();
      const { db, store } = await openRagStore({ url: tdb.url });
      return {
        db,
        store,
        async done() {
          await db.close();
          await tdb.drop();
        },
      };
    },
  },
];

/** Okapi BM25 with Lucene's idf, k1 = 1.2, b = 0.75, computed here from counts stated by hand. */
function bm25(tf: number, dl: number, df: number, n: number, avgdl: number): number {
  const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
  return (idf * tf * 2.2) / (tf + 1.2 * (0.25 + (0.75 * dl) / avgdl));
}

/** Unit vector from `values`. */
const unit = (values: number[]) => {
  const norm = Math.hypot(...values) || 1;
  return values.map((v) => v / norm);
};

/** Stand-ins for embedding models: hashed bag of words (ranks by shared words) and pure noise. */
const bagOfWords: Embedder = {
  embed: async (_m, texts) =>
    texts.map((t) => {
      const v = new Array<number>(256).fill(0);
      for (const w of t.toLowerCase().split(/\W+/).filter(Boolean)) {
        const at = createHash("md5").update(w).digest()[0] ?? 0;
        v[at] = (v[at] ?? 0) + 1;
      }
      return unit(v);
    }),
};
const noise: Embedder = {
  embed: async (_m, texts) =>
    texts.map((t) => unit([...createHash("sha256").update(t).digest()].slice(0, 16).map((b) => b - 127.5))),
};

/** Words that share no stems, so every generated document has its own vocabulary. */
const vocabulary = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}q${(i * 7919).toString(36)}`);

const plain = (store: RagStore) => new Retriever({ lexical: store, expansion: false, proximity: false });

describe.each(backends)("RAG store on $name", (backend) => {
  let store: RagStore;
  let db: Db;
  let done: () => Promise<void>;
  let seq = 0;
  const collection = (team = "t1", embeddingModel = "") =>
    store.createCollection({ team, name: `c${++seq}`, chunkSize: 2000, chunkOverlap: 0, embeddingModel });

  beforeAll(async () => {
    ({ store, db, done } = await backend.open());
  }, 60_000);
  afterAll(async () => done());

  test("BM25 with stemming and stop words matches the formula on per-collection statistics", async () => {
    const col = await collection();
    // Lexemes after stop words: a: cat(2) sat mat → dl 4; b: dog chase cat → dl 3; c: bird sing → dl 2.
    await ingestDocuments(store, col, [
      { id: "a", text: "The cats sat on the mat with a cat", metadata: {} },
      { id: "b", text: "Dogs chasing the cat", metadata: {} },
      { id: "c", text: "Birds singing", metadata: {} },
    ]);
    const hits = await plain(store).search(col, { query: "the cats", topK: 10 });
    expect(hits.map((h) => h.documentId)).toEqual(["a", "b"]);
    const avgdl = 9 / 3;
    expect(hits[0]?.score).toBeCloseTo(bm25(2, 4, 2, 3, avgdl), 9);
    expect(hits[1]?.score).toBeCloseTo(bm25(1, 3, 2, 3, avgdl), 9);
    expect(await plain(store).search(col, { query: "the of and", topK: 10 })).toEqual([]);
  });

  test("statistics are per collection and stay exact through updates and deletes", async () => {
    const docs = [
      { id: "a", text: "wing lift at high angles of attack", metadata: { kind: "x" } },
      { id: "b", text: "boundary layer transition on a wing", metadata: { kind: "y" } },
      { id: "c", text: "shock waves and boundary layer interaction", metadata: { kind: "y" } },
    ];
    const fresh = await collection();
    await ingestDocuments(store, fresh, docs);
    const churned = await collection();
    await ingestDocuments(store, churned, [
      ...docs.map((d) => ({ ...d, text: `${d.text} flutter flutter` })),
      { id: "z", text: "heat transfer in hypersonic flow over a wing", metadata: { kind: "z" } },
    ]);
    await ingestDocuments(store, churned, docs);
    expect(await store.deleteDocuments(churned, { ids: ["z"] })).toEqual({ documents: 1, chunks: 1 });
    const q = { query: "wing boundary layer", topK: 10 };
    const a = await plain(store).search(fresh, q);
    const b = await plain(store).search(churned, q);
    expect(b.map((h) => [h.documentId, h.score])).toEqual(a.map((h) => [h.documentId, h.score]));
    expect(await store.stats(churned)).toEqual(await store.stats(fresh));
  });

  test("unchanged documents are skipped without embedding; a changed one replaces its chunks", async () => {
    const calls: string[][] = [];
    // A stand-in for serving's Embed (unit vectors from the text's length), to count calls.
    const embedder: Embedder = {
      embed: async (_model, texts) => {
        calls.push(texts);
        return texts.map((t) => [Math.cos(t.length), Math.sin(t.length)]);
      },
    };
    const col = await collection("t1", "m");
    const docs = [
      { id: "a", text: "supersonic inlet design", metadata: { v: 1 } },
      { id: "b", text: "laminar flow control", metadata: { v: 1 } },
    ];
    expect(await ingestDocuments(store, col, docs, { embedder })).toEqual({ documents: 2, chunks: 2 });
    expect(await ingestDocuments(store, col, docs, { embedder })).toEqual({ documents: 0, chunks: 0 });
    expect(calls).toHaveLength(1);
    const changed = [{ id: "a", text: "hypersonic nozzle flow", metadata: { v: 2 } }, docs[1]!];
    expect(await ingestDocuments(store, col, changed, { embedder })).toEqual({ documents: 1, chunks: 1 });
    expect(calls[1]).toEqual(["hypersonic nozzle flow"]);
    expect(await plain(store).search(col, { query: "supersonic", topK: 5 })).toEqual([]);
    const [hit] = await plain(store).search(col, { query: "nozzle", topK: 5 });
    expect(hit).toMatchObject({ documentId: "a", chunkId: "a#0", metadata: { v: 2 } });
  });

  test("a filter is applied inside the scan: top_k matching chunks come back when they exist", async () => {
    const col = await collection("t1", "m");
    const docs = Array.from({ length: 40 }, (_, i) => ({
      id: `d${i}`,
      // The 35 'common' documents mention the query term far more often than the 5 'rare' ones.
      text:
        i < 35 ? "turbulence turbulence turbulence model" : "turbulence in a long passage about other things",
      metadata: { kind: i < 35 ? "common" : "rare", n: i },
    }));
    const embedder: Embedder = {
      embed: async (_m, texts) => texts.map((t) => [t.length % 2, 1 - (t.length % 2)]),
    };
    await ingestDocuments(store, col, docs, { embedder });
    const filter = parseFilter({ kind: "rare" });
    const lexical = await plain(store).search(col, { query: "turbulence", topK: 5, filter });
    expect(lexical.map((h) => h.metadata.kind)).toEqual(Array(5).fill("rare"));
    const dense = await store.nearest(col, [1, 0], { topK: 5, filter });
    expect(dense.map((h) => h.metadata.kind)).toEqual(Array(5).fill("rare"));
    const either = parseFilter({ $or: [{ n: 1 }, { n: { $in: [36, 37] } }] });
    const some = await plain(store).search(col, { query: "turbulence", topK: 10, filter: either });
    expect(some.map((h) => h.documentId).sort()).toEqual(["d1", "d36", "d37"]);
  });

  test("delete by metadata filter removes matching documents and their chunks only", async () => {
    const col = await collection();
    await ingestDocuments(store, col, [
      { id: "a", text: "propeller noise", metadata: { src: "old" } },
      { id: "b", text: "propeller efficiency", metadata: { src: "new" } },
      { id: "c", text: "propeller blades", metadata: { src: "old" } },
    ]);
    expect(await store.deleteDocuments(col, { filter: parseFilter({ src: "old" }) })).toEqual({
      documents: 2,
      chunks: 2,
    });
    const hits = await plain(store).search(col, { query: "propeller", topK: 10 });
    expect(hits.map((h) => h.documentId)).toEqual(["b"]);
  });

  test("teams are isolated: same collection name, no shared documents or statistics", async () => {
    const name = `shared${++seq}`;
    const mk = (team: string): Promise<CollectionRow> =>
      store.createCollection({ team, name, chunkSize: 2000, chunkOverlap: 0 });
    const a = await mk("team-a");
    const b = await mk("team-b");
    await ingestDocuments(store, a, [{ id: "1", text: "secret alpha plan", metadata: {} }]);
    await ingestDocuments(store, b, [
      { id: "1", text: "public beta notes", metadata: {} },
      { id: "2", text: "alpha release", metadata: {} },
    ]);
    const inA = await plain(store).search(a, { query: "alpha", topK: 10 });
    expect(inA.map((h) => h.text)).toEqual(["secret alpha plan"]);
    const inB = await plain(store).search(b, { query: "secret plan", topK: 10 });
    expect(inB).toEqual([]);
    expect((await store.getCollection("team-b", name)).id).toBe(b.id);
    await expect(store.getCollection("team-c", name)).rejects.toThrow(/not found/);
  });

  test.each([
    ["a model that ranks like noise gets no weight: the default stays lexical", noise, false],
    ["a model that finds known items gets weight in the default mode", bagOfWords, true],
  ])("%s", async (_title, embedder, trusted) => {
    const col = await collection("t1", "m");
    const docs = Array.from({ length: 60 }, (_, i) => ({
      id: `d${i}`,
      // A fixed pseudo-random draw (an LCG): documents share few words with one another.
      text: Array.from(
        { length: 30 },
        (_, j) => vocabulary[(((i * 30 + j) * 2654435761) % 4294967296) % 400],
      ).join(" "),
      metadata: {},
    }));
    await ingestDocuments(store, col, docs, { embedder });
    const retriever = new Retriever({
      lexical: store,
      dense: new EmbeddingIndex(store, embedder),
      calibration: { store, wait: true },
    });
    const weight = await retriever.calibratedWeight(col);
    expect(weight > 0).toBe(trusted);
    expect((await store.getCollection("t1", col.name)).denseWeight).toBe(weight);
    const query = { query: docs[3]?.text.split(" ").slice(0, 4).join(" ") ?? "", topK: 10 };
    const byDefault = await retriever.search(await store.getCollection("t1", col.name), query);
    const lexical = await retriever.search(col, { ...query, mode: "lexical" });
    if (!trusted) expect(byDefault).toEqual(lexical);
    else {
      // Fused: RRF scores, not BM25's, with the known item still at the top.
      expect(byDefault.map((h) => h.score)).not.toEqual(lexical.map((h) => h.score));
      expect(byDefault.slice(0, 3).map((h) => h.documentId)).toContain("d3");
    }
  });

  test("after large writes the store vacuums its index tables, so index-only scans stay index-only", async () => {
    const small = new RagStore(db, undefined, 50);
    const col = await small.createCollection({
      team: "vac",
      name: `v${++seq}`,
      chunkSize: 2000,
      chunkOverlap: 0,
    });
    const docs = Array.from({ length: 60 }, (_, i) => ({
      id: `d${i}`,
      text: `vacuum test ${i} ${vocabulary[i]}`,
      metadata: {},
    }));
    await ingestDocuments(small, col, docs.slice(0, 40));
    await small.idle();
    const before = await allVisiblePages(db);
    await ingestDocuments(small, col, docs.slice(40));
    await small.idle();
    expect(await allVisiblePages(db)).toBeGreaterThan(before);
  });
});
