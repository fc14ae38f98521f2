import { describe, expect, test } from "@jest/globals";
import { parseFilter } from "../retrieval/filter.js";
import {
  collectionConfig,
  hitsOf,
  hybridRequest,
  nearestRequest,
  pointId,
  pointOf,
  schemaProblem,
  tenantFilter,
} from "./qdrant.js";
import type { CollectionRow } from "./store.js";

const col = { team: "t", name: "docs" };
const tenant = { key: "tenant", match: { value: "t/docs" } };
const sparse = { indices: [3, 9], values: [1, 0.5] };

describe("Qdrant request builders", () => {
  test("the collection has a named cosine dense vector and a named sparse vector without Qdrant's IDF", () => {
    expect(collectionConfig(384)).toEqual({
      vectors: { dense: { size: 384, distance: "Cosine" } },
      sparse_vectors: { sparse: { modifier: "none" } },
    });
  });

  test("every search is restricted to the tenant, and to the metadata filter when there is one", () => {
    expect(tenantFilter(col)).toEqual({ must: [tenant] });
    expect(tenantFilter(col, parseFilter({ lang: "en" }))).toEqual({
      must: [tenant, { key: "metadata.lang", match: { value: "en" } }],
    });
  });

  test("dense and lexical searches query one named vector each", () => {
    expect(nearestRequest(col, "dense", [0.6, 0.8], { topK: 5 })).toEqual({
      query: [0.6, 0.8],
      using: "dense",
      filter: { must: [tenant] },
      limit: 5,
      with_payload: ["document_id", "idx", "text"],
    });
    expect(nearestRequest(col, "sparse", sparse, { topK: 3 })).toMatchObject({
      query: sparse,
      using: "sparse",
      limit: 3,
    });
  });

  test("hybrid is one request: both vectors prefetched under the filter, fused by RRF with rag's k", () => {
    const filter = { must: [tenant, { key: "metadata.lang", match: { value: "en" } }] };
    expect(
      hybridRequest(
        col,
        { dense: [1, 0], sparse },
        { topK: 4, depth: 100, filter: parseFilter({ lang: "en" }) },
      ),
    ).toEqual({
      prefetch: [
        { query: [1, 0], using: "dense", filter, limit: 100 },
        { query: sparse, using: "sparse", filter, limit: 100 },
      ],
      // rag's k = 60 over ranks from 1 is Qdrant's k = 61 over positions from 0.
      query: { rrf: { k: 61 } },
      limit: 4,
      with_payload: ["document_id", "idx", "text"],
    });
    const k10 = hybridRequest(col, { dense: [1, 0], sparse }, { topK: 4, depth: 10, k: 10 });
    expect(k10.query).toEqual({ rrf: { k: 11 } });
  });

  test("each prefetch is at least top_k deep", () => {
    const req = hybridRequest(col, { dense: [1, 0], sparse }, { topK: 50, depth: 10 });
    expect(req.prefetch.map((p) => p.limit)).toEqual([50, 50]);
  });

  test("a point carries both vectors and the payload a search returns", () => {
    const row = { ...col, id: 1 } as CollectionRow;
    const chunk = { documentId: "d", index: 2, text: "x", vector: [1, 0], sparse, metadata: { a: 1 } };
    expect(pointOf(row, chunk)).toEqual({
      id: pointId(col, "d", 2),
      vector: { dense: [1, 0], sparse },
      payload: { tenant: "t/docs", document_id: "d", idx: 2, text: "x", metadata: { a: 1 } },
    });
  });

  test("hits carry the metadata Postgres keeps; points of documents it does not hold are left out", () => {
    const points = [
      { score: 0.9, payload: { document_id: "a", idx: 1, text: "x" } },
      { score: 0.5, payload: { document_id: "gone", idx: 0, text: "y" } },
    ];
    const meta = new Map([["a", { k: 1, $positions: [{ chunk: 0, page: 3 }] }]]);
    expect(hitsOf(points, meta)).toEqual([
      {
        documentId: "a",
        chunkId: "a#1",
        index: 1,
        score: 0.9,
        text: "x",
        metadata: { k: 1, $positions: [{ chunk: 0, page: 3 }] },
      },
    ]);
  });
});

describe("schemaProblem: whether an existing Qdrant collection has rag's vectors", () => {
  const dense = { dense: { size: 3, distance: "Cosine" } };
  test.each([
    [
      "this release's config",
      { vectors: dense, sparse_vectors: { sparse: { modifier: "none" } } },
      3,
      undefined,
    ],
    [
      "no modifier (Qdrant's default, none)",
      { vectors: dense, sparse_vectors: { sparse: {} } },
      3,
      undefined,
    ],
    ["size unknown (a search)", { vectors: dense, sparse_vectors: { sparse: {} } }, undefined, undefined],
    [
      "no sparse vector (before lexical search in Qdrant)",
      { vectors: dense },
      3,
      "no sparse vector 'sparse'",
    ],
    [
      "Qdrant's IDF over every tenant",
      { vectors: dense, sparse_vectors: { sparse: { modifier: "idf" } } },
      3,
      "modifier 'idf', not 'none'",
    ],
    ["one unnamed dense vector", { vectors: { size: 3, distance: "Cosine" } }, 3, "no named vector 'dense'"],
    ["another length", { vectors: dense, sparse_vectors: { sparse: {} } }, 4, "has size 3, not 4"],
    [
      "another distance",
      { vectors: { dense: { size: 3, distance: "Dot" } }, sparse_vectors: { sparse: {} } },
      3,
      "not cosine",
    ],
  ])("%s", (_, params, size, problem) => {
    const found = schemaProblem(params, size);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});
