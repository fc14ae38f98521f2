/**
 * Okapi BM25 as the store computes it, per chunk d and query term t with weight w(t):
 *
 *   score(d) = Σ_t w(t) · idf(t) · tf(t,d) · (k1 + 1) / (tf(t,d) + k1 · (1 − b + b · dl(d) / avgdl))
 *   idf(t)   = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 *
 * N is the collection's chunk count, df(t) the number of its chunks holding t, dl(d) the chunk's
 * token count after stop words, avgdl the collection's mean. The idf is Lucene's (never negative,
 * so a term in most chunks still counts a little). w(t) is the term's count in the query (k3 = ∞,
 * the usual choice for short queries), or its weight after query expansion.
 */
export interface Bm25Params {
  k1: number;
  b: number;
}

/** Robertson & Zaragoza's textbook values, also Lucene's and Elasticsearch's defaults. */
export const BM25_DEFAULTS: Bm25Params = { k1: 1.2, b: 0.75 };
