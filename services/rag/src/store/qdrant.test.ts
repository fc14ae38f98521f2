import { describe, expect, test } from "@jest/globals";
import { parseFilter } from "../retrieval/filter.js";
import { collectionConfig, hybridRequest, nearestRequest, pointId, pointOf, tenantFilter } from "./qdrant.js";
import type { CollectionRow } from "./store.js";

const col = { team: "t", name: "docs" };
const tenant = { key: "tenant", match: { value: "t/docs" } };
const sparse = { indices: [3, 9], values: [1, 0.5] };

describe("Qdrant request builders", () => {
  test("the collection has a named cosine dense vector and a named sparse vector with server-side IDF", () => {
    expect(collectionConfig(384)).toEqual({
      vectors: { dense: { size: 384, distance: "Cosine" } },
      sparse_vectors: { sparse: { modifier: "idf" } },
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
      with_payload: true,
    });
    expect(nearestRequest(col, "sparse", sparse, { topK: 3 })).toMatchObject({
      query: sparse,
      using: "sparse",
      limit: 3,
    });
  });

  test("hybrid is one request: both vectors prefetched under the filter, fused by RRF", () => {
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
      query: { fusion: "rrf" },
      limit: 4,
      with_payload: true,
    });
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
});
