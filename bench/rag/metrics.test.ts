import { describe, expect, test } from "@jest/globals";
import { parseQrels, parseQueries } from "./cranfield.js";
import { averagePrecision, documentRanking, ndcgAt, recallAt } from "./metrics.js";

describe("Cranfield files", () => {
  test("judgments number queries by their order in cran.qry; codes become gains, -1 the source's gain", () => {
    const queries = parseQueries(".I 001\n.W\nfirst query\n.I 004\n.W\nsecond\nquery .\n");
    expect(queries.map((q) => [q.number, q.id, q.text])).toEqual([
      [1, "001", "first query"],
      [2, "004", "second query ."],
    ]);
    const qrels = parseQrels("2 10 1\n2 11 4\n2 12 -1\n", 4);
    expect([...(qrels.get(2) ?? [])]).toEqual([
      ["10", 4],
      ["11", 1],
      ["12", 4],
    ]);
    expect(parseQrels("2 12 -1", 0).get(2)?.get("12")).toBe(0);
  });
});

describe("metrics (trec_eval definitions)", () => {
  const judged = new Map([
    ["a", 3],
    ["b", 1],
    ["c", 0],
  ]);

  test("nDCG@k against the ideal order of the judged gains", () => {
    expect(ndcgAt(10, ["a", "b"], judged)).toBeCloseTo(1, 12);
    const dcg = 1 / Math.log2(2) + 3 / Math.log2(3);
    const ideal = 3 / Math.log2(2) + 1 / Math.log2(3);
    expect(ndcgAt(10, ["b", "a"], judged)).toBeCloseTo(dcg / ideal, 12);
    expect(ndcgAt(1, ["c", "a"], judged)).toBe(0);
  });

  test("average precision and recall count unretrieved relevant documents", () => {
    expect(averagePrecision(["x", "a", "c"], judged)).toBeCloseTo(1 / 2 / 2, 12);
    expect(recallAt(2, ["a", "x", "b"], judged)).toBe(0.5);
  });

  test("a document ranks by its best chunk", () => {
    expect(documentRanking(["d1", "d2", "d1", "d3"], 2)).toEqual(["d1", "d2"]);
  });
});
