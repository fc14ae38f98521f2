import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { QdrantClient } from "@qdrant/js-client-rest";
import type { Db } from "@sloughgpt/db";
import { FailedPreconditionError } from "@sloughgpt/runtime";
import { createTestDatabase, type FakeQdrant, startFakeQdrant } from "@sloughgpt/testing";
import type { Embedder } from "../src/embedding/embedder.js";
import { POSITIONS_KEY, positionOf } from "../src/parse/index.js";
import { EmbeddingIndex } from "../src/retrieval/dense.js";
import { type FilterNode, parseFilter } from "../src/retrieval/filter.js";
import { Retriever } from "../src/retrieval/retriever.js";
import { openRagStore } from "../src/store/open.js";
import { collectionConfig, QdrantVectors } from "../src/store/qdrant.js";
import { QdrantHybrid } from "../src/store/qdrant-hybrid.js";
import {
  type CollectionRow,
  contentHash,
  type RagStore,
  type SearchHit,
  type VectorStoreKind,
} from "../src/store/store.js";

/** A document with one vector per chunk. */
interface VectorDoc {
  id: string;
  metadata: Record<string, unknown>;
  chunks: { text: string; vector: number[] }[];
}

/** The dense-store contract: what rag needs from any place that keeps chunk vectors. */
interface DenseBackend {
  collection(team: string, name: string): Promise<CollectionRow>;
  write(col: CollectionRow, docs: VectorDoc[]): Promise<void>;
  remove(col: CollectionRow, ids: string[]): Promise<void>;
  nearest(col: CollectionRow, v: number[], opts: { topK: number; filter?: FilterNode }): Promise<SearchHit[]>;
  close(): Promise<void>;
}

function ragStoreBackend(store: RagStore, kind: VectorStoreKind, close: () => Promise<void>): DenseBackend {
  return {
    collection: (team, name) =>
      store.createCollection({
        team,
        name,
        chunkSize: 2000,
        chunkOverlap: 0,
        embeddingModel: "m",
        store: kind,
      }),
    write: async (col, docs) => {
      await store.upsertDocuments(
        col,
        docs.map((d) => {
          const text = d.chunks.map((c) => c.text).join("\n");
          return {
            id: d.id,
            metadata: d.metadata,
            hash: contentHash(text, d.metadata),
            chunks: d.chunks.map((c, index) => ({ index, text: c.text, start: 0, end: c.text.length })),
            embeddings: d.chunks.map((c) => c.vector),
          };
        }),
      );
    },
    remove: async (col, ids) => void (await store.deleteDocuments(col, { ids })),
    nearest: (col, v, opts) => store.nearest(col, v, opts),
    close,
  };
}

const backends: { name: string; open(): Promise<DenseBackend> }[] = [
  {
    name: "Postgres store on PGlite",
    open: async () => {
      const { db, store } = await openRagStore();
      return ragStoreBackend(store, "postgres", () => db.close());
    },
  },
  {
    name: "Postgres store on Postgres",
    open: async () => {
      const tdb = await createTestDatabase();
      const { db, store } = await openRagStore({ url: tdb.url });
      return ragStoreBackend(store, "postgres", async () => {
        await db.close();
        await tdb.drop();
      });
    },
  },
  {
    name: "Postgres store with vectors in Qdrant, on PGlite and the fake Qdrant (test double)",
    open: async () => {
      const fake = await startFakeQdrant();
      const qdrant = new QdrantVectors(new QdrantClient({ url: fake.url, checkCompatibility: false }));
      const { db, store } = await openRagStore({ qdrant });
      return ragStoreBackend(store, "qdrant", async () => {
        await db.close();
        await fake.close();
      });
    },
  },
];

/** A unit vector at `angle` (radians) in the plane: cosine to [1, 0] is cos(angle). */
const at = (angle: number) => [Math.cos(angle), Math.sin(angle), 0];

describe.each(backends)("dense store contract: $name", (backend) => {
  let b: DenseBackend;
  let seq = 0;
  const fresh = (team = "t") => b.collection(team, `v${++seq}`);

  beforeAll(async () => {
    b = await backend.open();
  }, 60_000);
  afterAll(async () => b?.close());

  test("nearest chunks come back best first, with their ids, text and metadata", async () => {
    const col = await fresh();
    await b.write(col, [
      { id: "far", metadata: { k: 1 }, chunks: [{ text: "far", vector: at(1.2) }] },
      {
        id: "near",
        metadata: { k: 2 },
        chunks: [
          { text: "near a", vector: at(0.1) },
          { text: "near b", vector: at(0.5) },
        ],
      },
    ]);
    const hits = await b.nearest(col, at(0), { topK: 2 });
    expect(hits.map((h) => [h.chunkId, h.documentId, h.text])).toEqual([
      ["near#0", "near", "near a"],
      ["near#1", "near", "near b"],
    ]);
    expect(hits[0]?.score).toBeCloseTo(Math.cos(0.1), 5);
    expect(hits[0]?.metadata).toEqual({ k: 2 });
  });

  test("a filter is applied inside the search: top_k matching chunks come back when they exist", async () => {
    const col = await fresh();
    const docs = Array.from({ length: 40 }, (_, i) => ({
      id: `d${i}`,
      metadata: {
        kind: i < 35 ? "common" : "rare",
        n: i,
        w: i === 36 ? 2.5 : 0.5,
        src: { lab: i % 2 ? "odd" : "even" },
      },
      // The 35 common documents are all nearer the query than any rare one.
      chunks: [{ text: `doc ${i}`, vector: at(i < 35 ? 0.01 * i : 1 + 0.01 * i) }],
    }));
    await b.write(col, docs);
    const rare = await b.nearest(col, at(0), { topK: 5, filter: parseFilter({ kind: "rare" }) });
    expect(rare.map((h) => h.documentId)).toEqual(["d35", "d36", "d37", "d38", "d39"]);
    const some = await b.nearest(col, at(0), {
      topK: 10,
      filter: parseFilter({ $and: [{ $or: [{ n: 1 }, { n: { $in: [36, 37] } }] }, { "src.lab": "odd" }] }),
    });
    expect(some.map((h) => h.documentId)).toEqual(["d1", "d37"]);
    const fractional = await b.nearest(col, at(0), {
      topK: 3,
      filter: parseFilter({ w: { $in: [2.5, 7] } }),
    });
    expect(fractional.map((h) => h.documentId)).toEqual(["d36"]);
  });

  test("writing a document again replaces all its chunks; removing it removes them", async () => {
    const col = await fresh();
    const three = [0.1, 0.2, 0.3].map((a, i) => ({ text: `old ${i}`, vector: at(a) }));
    await b.write(col, [{ id: "doc", metadata: { v: 1 }, chunks: three }]);
    await b.write(col, [{ id: "doc", metadata: { v: 2 }, chunks: [{ text: "new", vector: at(1) }] }]);
    const hits = await b.nearest(col, at(0), { topK: 10 });
    expect(hits.map((h) => [h.chunkId, h.text, h.metadata])).toEqual([["doc#0", "new", { v: 2 }]]);
    await b.write(col, [{ id: "other", metadata: {}, chunks: [{ text: "x", vector: at(0) }] }]);
    await b.remove(col, ["doc"]);
    expect((await b.nearest(col, at(0), { topK: 10 })).map((h) => h.documentId)).toEqual(["other"]);
  });

  test("tenants are isolated: same collection name in two teams", async () => {
    const name = `shared${++seq}`;
    const a = await b.collection("team-a", name);
    const c = await b.collection("team-b", name);
    await b.write(a, [{ id: "1", metadata: {}, chunks: [{ text: "a's", vector: at(0) }] }]);
    await b.write(c, [{ id: "1", metadata: {}, chunks: [{ text: "b's", vector: at(0.3) }] }]);
    expect((await b.nearest(a, at(0), { topK: 10 })).map((h) => h.text)).toEqual(["a's"]);
    await b.remove(c, ["1"]);
    expect((await b.nearest(a, at(0), { topK: 10 })).map((h) => h.text)).toEqual(["a's"]);
    expect(await b.nearest(c, at(0), { topK: 10 })).toEqual([]);
  });
});

describe("vectors in Qdrant", () => {
  test("the tenant field is payload-indexed, and a Qdrant failure leaves Postgres unchanged", async () => {
    const fake = await startFakeQdrant();
    const qdrant = new QdrantVectors(new QdrantClient({ url: fake.url, checkCompatibility: false }));
    const { db, store } = await openRagStore({ qdrant });
    try {
      const col = await store.createCollection({
        team: "t",
        name: "q",
        chunkSize: 2000,
        chunkOverlap: 0,
        embeddingModel: "m",
        store: "qdrant",
      });
      const doc = (text: string, vector: number[]) => ({
        id: "d",
        metadata: {},
        hash: contentHash(text, {}),
        chunks: [{ index: 0, text, start: 0, end: text.length }],
        embeddings: [vector],
      });
      await store.upsertDocuments(col, [doc("first", at(0))]);
      expect(fake.requests).toContain("PUT /collections/sloughgpt_rag/index");
      // Qdrant refuses a vector of the wrong length: the whole upsert is rolled back.
      await expect(store.upsertDocuments(col, [doc("second", [1, 0])])).rejects.toThrow();
      const hits = await store.nearest(col, at(0), { topK: 5 });
      expect(hits.map((h) => h.text)).toEqual(["first"]);
      expect((await store.contentHashes(col, ["d"])).get("d")).toBe(contentHash("first", {}));
    } finally {
      await db.close();
      await fake.close();
    }
  }, 60_000);
});

describe("search of collections whose vectors are in Qdrant (fake Qdrant, a test double)", () => {
  const QUERY = "POST /collections/sloughgpt_rag/points/query";
  /** Query embeddings by text: the query below points along [1, 0, 0]. */
  const embedder: Embedder = {
    embed: async (_model, texts) => texts.map((t) => (t === "apple pie" ? at(0) : at(1))),
  };
  let fake: FakeQdrant;
  let db: Db;
  let store: RagStore;
  let qdrant: QdrantVectors;

  beforeAll(async () => {
    fake = await startFakeQdrant();
    qdrant = new QdrantVectors(new QdrantClient({ url: fake.url, checkCompatibility: false }));
    ({ db, store } = await openRagStore({ qdrant }));
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await fake?.close();
  });

  const collection = (team: string, name: string, kind: VectorStoreKind = "qdrant") =>
    store.createCollection({
      team,
      name,
      chunkSize: 2000,
      chunkOverlap: 0,
      embeddingModel: "m",
      store: kind,
    });
  const write = (col: CollectionRow, docs: { id: string; text: string; angle: number; kind?: string }[]) =>
    store.upsertDocuments(
      col,
      docs.map((d) => ({
        id: d.id,
        metadata: { kind: d.kind ?? "any" },
        hash: contentHash(d.text, { kind: d.kind ?? "any" }),
        chunks: [{ index: 0, text: d.text, start: 0, end: d.text.length }],
        embeddings: [at(d.angle)],
      })),
    );

  test("hybrid search is one Query API request whose RRF fuses both lists, within the tenant and filter", async () => {
    const a = await collection("team-a", "docs");
    const b = await collection("team-b", "docs");
    await write(a, [
      { id: "lex", text: "Apple pie, the apple recipe.", angle: 1.4, kind: "food" },
      { id: "vec", text: "A dessert of baked fruit.", angle: 0, kind: "food" },
      { id: "both", text: "An apple dessert.", angle: 0.2 },
      { id: "none", text: "Car engines.", angle: 1.5, kind: "food" },
    ]);
    // Team b's chunk matches the query best by both vectors: never seen by team a.
    await write(b, [{ id: "b-only", text: "Apple pie! Apple pie!", angle: 0 }]);
    const retriever = new Retriever({
      lexical: store,
      dense: new EmbeddingIndex(store, embedder),
      storeFusion: new QdrantHybrid(qdrant, embedder),
    });

    const before = fake.requests.filter((r) => r === QUERY).length;
    const hits = await retriever.search(a, { query: "apple pie", topK: 3, mode: "hybrid" });
    expect(fake.requests.filter((r) => r === QUERY).length - before).toBe(1);
    // Dense alone: vec, both, lex, none. Sparse alone: lex, both. RRF with rag's k = 60 over ranks
    // from 1: lex 1/63 + 1/61, both 1/62 + 1/62, vec 1/61, none 1/64.
    expect(hits.map((h) => [h.documentId, h.score])).toEqual([
      ["lex", expect.closeTo(1 / 63 + 1 / 61, 6)],
      ["both", expect.closeTo(2 / 62, 6)],
      ["vec", expect.closeTo(1 / 61, 6)],
    ]);
    expect(hits[0]).toMatchObject({
      chunkId: "lex#0",
      text: "Apple pie, the apple recipe.",
      metadata: { kind: "food" },
    });

    // The filter is applied inside both prefetches: top_k matching chunks come back.
    const food = await retriever.search(a, {
      query: "apple pie",
      topK: 3,
      mode: "hybrid",
      filter: parseFilter({ kind: "food" }),
    });
    expect(food.map((h) => h.documentId)).toEqual(["lex", "vec", "none"]);
    const teamB = await retriever.search(b, { query: "apple pie", topK: 5, mode: "hybrid" });
    expect(teamB.map((h) => h.documentId)).toEqual(["b-only"]);
  }, 60_000);

  test("lexical search ranks by the sparse vectors in Qdrant with the scores of Postgres BM25, per tenant", async () => {
    // A Qdrant collection of its own, shared with another tenant whose chunks hold the query's terms.
    const own = await startFakeQdrant();
    const vectors = new QdrantVectors(new QdrantClient({ url: own.url, checkCompatibility: false }));
    const opened = await openRagStore({ qdrant: vectors });
    try {
      const make = (kind: VectorStoreKind) =>
        opened.store.createCollection({
          team: "t",
          name: kind,
          chunkSize: 2000,
          chunkOverlap: 0,
          embeddingModel: "m",
          store: kind,
        });
      const texts = [
        "The boundary layer separates from the wing at high angles of attack.",
        "Turbulent boundary layers resist separation better than laminar ones.",
        "A wing's lift grows with the angle of attack until the stall.",
        "Laminar flow over the wing keeps drag low.",
        "Engines mounted under the wing.",
      ];
      const docs = texts.map((text, i) => ({
        id: `d${i}`,
        metadata: {},
        hash: contentHash(text, {}),
        chunks: [{ index: 0, text, start: 0, end: text.length }],
        embeddings: [at(i / 10)],
      }));
      const [pg, qd] = [await make("postgres"), await make("qdrant")];
      await opened.store.upsertDocuments(pg, docs);
      await opened.store.upsertDocuments(qd, docs);
      const neighbour = await opened.store.createCollection({
        team: "u",
        name: "qdrant",
        chunkSize: 2000,
        chunkOverlap: 0,
        embeddingModel: "m",
        store: "qdrant",
      });
      const theirs = Array.from({ length: 12 }, (_, i) => {
        const text = `Laminar boundary layer number ${i} on the wing${i % 3 ? "" : ", separation"}.`;
        return {
          id: `u${i}`,
          metadata: {},
          hash: contentHash(text, {}),
          chunks: [{ index: 0, text, start: 0, end: text.length }],
          embeddings: [at(i / 10)],
        };
      });
      await opened.store.upsertDocuments(neighbour, theirs);
      const terms = await opened.store.analyze("laminar boundary layer separation at the wing");
      const before = own.requests.length;
      const [inPostgres, inQdrant] = [
        await opened.store.bm25(pg, terms, { topK: 5 }),
        await opened.store.bm25(qd, terms, { topK: 5 }),
      ];
      expect(own.requests.slice(before)).toContain("POST /collections/sloughgpt_rag/points/query");
      expect(inQdrant.map((h) => h.chunkId)).toEqual(inPostgres.map((h) => h.chunkId));
      expect(inQdrant.map((h) => h.score)).toEqual(inPostgres.map((h) => expect.closeTo(h.score, 4)));
      // The whole lexical pipeline (RM3, proximity) runs on top of it alike.
      const retriever = new Retriever({ lexical: opened.store });
      const req = { query: "boundary layer separation", topK: 3, mode: "lexical" as const };
      expect((await retriever.search(qd, req)).map((h) => h.chunkId)).toEqual(
        (await retriever.search(pg, req)).map((h) => h.chunkId),
      );
    } finally {
      await opened.db.close();
      await own.close();
    }
  }, 60_000);

  test("points carry no chunk positions; searches still give each chunk's page and heading", async () => {
    const col = await collection("team-p", "paged");
    const runs = Array.from({ length: 500 }, (_, i) => ({ chunk: i, page: i + 1, heading: `H${i}` }));
    const texts = ["Apple orchards in spring.", "Apple pie from the orchard."];
    await store.upsertDocuments(col, [
      {
        id: "book",
        metadata: { kind: "book", [POSITIONS_KEY]: runs },
        hash: contentHash(texts.join("\n"), { kind: "book" }),
        chunks: texts.map((text, index) => ({ index, text, start: 0, end: text.length })),
        embeddings: [at(0.3), at(0)],
      },
    ]);
    const client = new QdrantClient({ url: fake.url, checkCompatibility: false });
    const raw = await client.query("sloughgpt_rag", {
      query: at(0),
      using: "dense",
      filter: { must: [{ key: "tenant", match: { value: "team-p/paged" } }] },
      with_payload: true,
    });
    expect(raw.points).toHaveLength(2);
    for (const p of raw.points) expect(p.payload?.metadata).toEqual({ kind: "book" });

    const positions = (hits: SearchHit[]) =>
      hits.map((h) => [h.chunkId, positionOf(h.metadata, h.index).position]);
    const want = [
      ["book#1", { page: 2, heading: "H1" }],
      ["book#0", { page: 1, heading: "H0" }],
    ];
    expect(positions(await store.nearest(col, at(0), { topK: 2 }))).toEqual(want);
    const terms = await store.analyze("apple pie");
    expect(positions(await store.bm25(col, terms, { topK: 2 }))).toEqual(want);
    const retriever = new Retriever({
      lexical: store,
      dense: new EmbeddingIndex(store, embedder),
      storeFusion: new QdrantHybrid(qdrant, embedder),
    });
    const hybrid = await retriever.search(col, { query: "apple pie", topK: 2, mode: "hybrid" });
    expect(positions(hybrid)).toEqual(want);
  }, 60_000);

  test("the default mode at calibrated dense weight 1 is rag's fusion (RM3, proximity), not Qdrant's", async () => {
    const col = await collection("team-c", "calibrated");
    await write(col, [
      { id: "lex", text: "Apple pie, the apple recipe.", angle: 1.4 },
      { id: "vec", text: "A dessert of baked fruit.", angle: 0 },
      { id: "both", text: "An apple dessert.", angle: 0.2 },
    ]);
    const { chunks } = await store.stats(col);
    const calibrated = { ...col, denseWeight: 1, calibratedChunks: chunks };
    const options = { lexical: store, dense: new EmbeddingIndex(store, embedder), calibration: { store } };
    const withStore = new Retriever({ ...options, storeFusion: new QdrantHybrid(qdrant, embedder) });
    const before = fake.requests.filter((r) => r === QUERY).length;
    const hits = await withStore.search(calibrated, { query: "apple pie", topK: 3 });
    expect(fake.requests.filter((r) => r === QUERY).length - before).toBeGreaterThan(1);
    const inRag = await new Retriever(options).search(calibrated, { query: "apple pie", topK: 3 });
    expect(hits).toEqual(inRag);
  }, 60_000);
});

describe("a Qdrant collection made by an older release (fake Qdrant, a test double)", () => {
  const old = [
    ["without the sparse vector", { vectors: collectionConfig(3).vectors }],
    [
      "with Qdrant's IDF over every tenant",
      { ...collectionConfig(3), sparse_vectors: { sparse: { modifier: "idf" as const } } },
    ],
  ] as const;

  test.each(old)(
    "%s: writes and searches fail with what to do",
    async (_, config) => {
      const fake = await startFakeQdrant();
      const client = new QdrantClient({ url: fake.url, checkCompatibility: false });
      const { db, store } = await openRagStore({ qdrant: new QdrantVectors(client) });
      try {
        // After the store opens: a connection idle longer than the server's keep-alive is reset.
        await client.createCollection("sloughgpt_rag", config);
        const col = await store.createCollection({
          team: "t",
          name: "old",
          chunkSize: 2000,
          chunkOverlap: 0,
          embeddingModel: "m",
          store: "qdrant",
        });
        const write = store.upsertDocuments(col, [
          {
            id: "d",
            metadata: {},
            hash: contentHash("apple", {}),
            chunks: [{ index: 0, text: "apple", start: 0, end: 5 }],
            embeddings: [at(0)],
          },
        ]);
        await expect(write).rejects.toThrow(FailedPreconditionError);
        await expect(write).rejects.toThrow(/delete it \(DELETE \/collections\/sloughgpt_rag\)/);
        expect(await store.contentHashes(col, ["d"])).toEqual(new Map());
        await expect(store.nearest(col, at(0), { topK: 1 })).rejects.toThrow(FailedPreconditionError);
      } finally {
        await db.close();
        await fake.close();
      }
    },
    60_000,
  );
});
