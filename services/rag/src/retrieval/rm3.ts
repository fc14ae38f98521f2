import { isExpansionTerm, type WeightedTerm } from "../text/analyzer.js";

/**
 * RM3 pseudo-relevance feedback (Lavrenko & Croft's relevance model, interpolated with the query as
 * in Jaleel et al., TREC 2004), as Anserini implements it, with Anserini's defaults:
 *
 *   P(t|R)  ∝ Σ_{d ∈ top fbDocs} score(d) · tf(t,d) / |d|      (top fbTerms terms kept, L1-normalized)
 *   q'(t)   = λ · q(t) / Σ q + (1 − λ) · P(t|R)
 *
 * where |d| counts the feedback terms of d. Feedback terms leave out one-character lexemes, bare
 * numbers, and any term in more than `maxDocumentFrequency` of the collection's chunks (Anserini's
 * replacement for a collection-specific stop-word list).
 */
export interface Rm3Params {
  feedbackDocs: number;
  feedbackTerms: number;
  /** λ, the original query's share of the expanded query. */
  originalQueryWeight: number;
  /** A fraction of the collection's chunks. */
  maxDocumentFrequency: number;
}

export const RM3_DEFAULTS: Rm3Params = {
  feedbackDocs: 10,
  feedbackTerms: 10,
  originalQueryWeight: 0.5,
  maxDocumentFrequency: 0.1,
};

export interface FeedbackDoc {
  /** The first-pass retrieval score. */
  score: number;
  /** Lexeme → count in the chunk. */
  terms: ReadonlyMap<string, number>;
}

export interface CollectionFrequencies {
  /** Chunks in the collection. */
  chunks: number;
  /** Lexeme → chunks holding it. */
  df: ReadonlyMap<string, number>;
}

/** The expanded query, heaviest term first. Pure. */
export function rm3Expand(
  query: WeightedTerm[],
  feedback: FeedbackDoc[],
  freq: CollectionFrequencies,
  p: Rm3Params = RM3_DEFAULTS,
): WeightedTerm[] {
  const model = relevanceModel(feedback.slice(0, p.feedbackDocs), freq, p);
  const queryMass = query.reduce((s, t) => s + Math.max(0, t.weight), 0);
  const out = new Map<string, number>();
  for (const t of query) {
    if (t.weight > 0 && queryMass > 0) out.set(t.term, (p.originalQueryWeight * t.weight) / queryMass);
  }
  for (const [term, w] of model) out.set(term, (out.get(term) ?? 0) + (1 - p.originalQueryWeight) * w);
  return sortTerms(out);
}

function relevanceModel(docs: FeedbackDoc[], freq: CollectionFrequencies, p: Rm3Params): Map<string, number> {
  const allowed = (term: string) =>
    isExpansionTerm(term) && (freq.df.get(term) ?? 0) <= p.maxDocumentFrequency * freq.chunks;
  const model = new Map<string, number>();
  for (const d of docs) {
    const kept = [...d.terms].filter(([term]) => allowed(term));
    const length = kept.reduce((s, [, tf]) => s + tf, 0);
    if (length === 0 || d.score <= 0) continue;
    for (const [term, tf] of kept) model.set(term, (model.get(term) ?? 0) + (d.score * tf) / length);
  }
  const top = sortTerms(model).slice(0, p.feedbackTerms);
  const mass = top.reduce((s, t) => s + t.weight, 0);
  return new Map(top.map((t) => [t.term, t.weight / mass]));
}

/** Heaviest first; ties by term so the result never depends on map order. */
function sortTerms(weights: Map<string, number>): WeightedTerm[] {
  return [...weights]
    .map(([term, weight]) => ({ term, weight }))
    .sort((a, b) => b.weight - a.weight || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
}
