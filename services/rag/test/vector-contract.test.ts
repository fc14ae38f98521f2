import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { QdrantClient } from "@qdrant/js-client-rest";
import { createTestDatabase, startFakeQdrant } from "@sloughgpt/testing";
import { type FilterNode, parseFilter } from "../src/retrieval/filter.js";
import { openRagStore } from "../src/store/open.js";
import { QdrantVectors } from "../src/store/qdrant.js";
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
