import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { type FakeQdrant, QDRANT_DEFAULT_RRF_K, startFakeQdrant } from "./fake.js";

type Point = { id: number; score: number; payload?: { team: string } };

/** The fake Qdrant (a test double) over HTTP, in the JSON shapes of Qdrant's REST API. */
describe("fake Qdrant: sparse vectors, the Query API and RRF", () => {
  let fake: FakeQdrant;
  const name = "c";
  const call = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${fake.url}/collections/${name}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { result: { points: Point[] } } };
  };
  const query = async (body: unknown) => {
    const res = await call("POST", "/points/query", body);
    expect(res.status).toBe(200);
    return res.body.result;
  };
  const idf = (n: number, df: number) => Math.log((n - df + 0.5) / (df + 0.5) + 1);

  beforeAll(async () => {
    fake = await startFakeQdrant();
    await call("PUT", "", {
      vectors: { dense: { size: 2, distance: "Cosine" } },
      sparse_vectors: { sparse: { modifier: "idf" } },
    });
    const point = (id: number, dense: number[], indices: number[], values: number[], team: string) => ({
      id,
      vector: { dense, sparse: { indices, values } },
      payload: { team },
    });
    await call("PUT", "/points?wait=true", {
      points: [
        point(1, [1, 0], [7, 9], [1, 2], "a"),
        point(2, [0.9, 0.1], [7], [1], "a"),
        point(3, [0, 1], [9], [1], "b"),
        point(4, [0.5, 0.5], [5], [3], "a"),
      ],
    });
  });
  afterAll(async () => fake?.close());

  test("a sparse query scores Σ query value · IDF · point value over shared dimensions only", async () => {
    const res = await query({ query: { indices: [9], values: [2] }, using: "sparse" });
    // Dimension 9 is in 2 of the 4 points.
    expect(res.points.map((p) => [p.id, p.score])).toEqual([
      [1, expect.closeTo(2 * idf(4, 2) * 2, 6)],
      [3, expect.closeTo(2 * idf(4, 2) * 1, 6)],
    ]);
  });

  test("RRF fuses prefetches with k = 2 over 0-based positions; the filter reaches every prefetch", async () => {
    const res = await query({
      prefetch: [
        { query: [1, 0], using: "dense", limit: 10 },
        { query: { indices: [7, 9], values: [1, 1] }, using: "sparse", limit: 10 },
      ],
      query: { fusion: "rrf" },
      filter: { must: [{ key: "team", match: { value: "a" } }] },
      limit: 3,
      with_payload: true,
    });
    // dense (team a): 1, 2, 4; sparse (team a): 1 (idf(7)+2·idf(9)), 2 (idf(7)).
    const k = QDRANT_DEFAULT_RRF_K;
    expect(k).toBe(2);
    expect(res.points.map((p) => [p.id, p.score])).toEqual([
      [1, expect.closeTo(1 / k + 1 / k, 6)],
      [2, expect.closeTo(1 / (1 + k) + 1 / (1 + k), 6)],
      [4, expect.closeTo(1 / (2 + k), 6)],
    ]);
    expect(res.points.every((p) => p.payload?.team === "a")).toBe(true);
  });

  test("a prefetch's own filter and limit apply before fusion; `rrf.k` sets the constant", async () => {
    const res = await query({
      prefetch: [
        {
          query: [0, 1],
          using: "dense",
          limit: 1,
          filter: { must: [{ key: "team", match: { value: "a" } }] },
        },
        { query: { indices: [9], values: [1] }, using: "sparse", limit: 1 },
      ],
      query: { rrf: { k: 61 } },
    });
    // Each list's first point (a tie, in no order Qdrant promises).
    const byId = res.points.map((p) => [p.id, p.score]).sort((a, b) => Number(a[0]) - Number(b[0]));
    expect(byId).toEqual([
      [1, expect.closeTo(1 / 61, 6)],
      [4, expect.closeTo(1 / 61, 6)],
    ]);
  });

  test("sparse vectors are checked as Qdrant checks them", async () => {
    const bad = async (sparse: unknown) =>
      (await call("PUT", "/points?wait=true", { points: [{ id: 9, vector: { sparse } }] })).status;
    expect(await bad({ indices: [1, 1], values: [1, 2] })).toBe(422);
    expect(await bad({ indices: [1, 2], values: [1] })).toBe(422);
    expect(await bad([0.1, 0.2])).toBe(400);
    expect((await call("POST", "/points/query", { query: [1, 0], using: "sparse" })).status).toBe(400);
    expect((await call("POST", "/points/query", { query: { fusion: "rrf" } })).status).toBe(400);
  });

  test("collection info has Qdrant's shape: config.params.vectors and sparse_vectors as created", async () => {
    const res = await fetch(`${fake.url}/collections/${name}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { config: { params: Record<string, unknown> } } };
    expect(body.result.config.params).toMatchObject({
      vectors: { dense: { size: 2, distance: "Cosine" } },
      sparse_vectors: { sparse: { modifier: "idf" } },
    });
    expect((await fetch(`${fake.url}/collections/missing`)).status).toBe(404);
  });

  test("without the IDF modifier a sparse query scores the plain dot product; with_payload picks keys", async () => {
    const put = (path: string, body: unknown) =>
      fetch(`${fake.url}/collections/plain${path}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    await put("", { vectors: { dense: { size: 2, distance: "Cosine" } }, sparse_vectors: { sparse: {} } });
    await put("/points?wait=true", {
      points: [
        { id: 1, vector: { dense: [1, 0], sparse: { indices: [9], values: [2] } }, payload: { a: 1, b: 2 } },
        { id: 2, vector: { dense: [0, 1], sparse: { indices: [9], values: [1] } }, payload: { a: 3 } },
      ],
    });
    const res = await fetch(`${fake.url}/collections/plain/points/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: { indices: [9], values: [3] }, using: "sparse", with_payload: ["b"] }),
    });
    const { result } = (await res.json()) as { result: { points: Point[] } };
    expect(result.points.map((p) => [p.id, p.score, p.payload])).toEqual([
      [1, 6, { b: 2 }],
      [2, 3, {}],
    ]);
    const info = (await (await fetch(`${fake.url}/collections/plain`)).json()) as {
      result: { config: { params: { sparse_vectors: unknown } } };
    };
    expect(info.result.config.params.sparse_vectors).toEqual({ sparse: {} });
  });
});
