/**
 * Text analysis runs inside the database, through one SQL function, `rag.analyze(text)`, for chunks
 * at index time and for queries at search time, so both always produce the same lexemes.
 *
 * `rag.english` is Postgres's `english` configuration (its default parser, the Snowball English
 * stemmer and its stop-word list) with one change: a hyphenated word is indexed as its parts only
 * ("boundary-layer" gives "boundari", "layer"), as Lucene's standard tokenizer does, instead of
 * the parts plus the whole compound. The compound never matches a query written with spaces, and
 * counting it as a token inflates the chunk length BM25 normalizes by.
 *
 * Lexemes are a property of the server's stemmer version: moving an index to a Postgres with a
 * different Snowball release needs a re-index (re-upsert), as with any stemmed index.
 */
export const ANALYZER_SQL = `
  CREATE TEXT SEARCH CONFIGURATION rag.english (COPY = pg_catalog.english);
  ALTER TEXT SEARCH CONFIGURATION rag.english DROP MAPPING FOR asciihword, hword, numhword;
  CREATE FUNCTION rag.analyze(input text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN to_tsvector('rag.english'::regconfig, input);`;

/** A lexeme with a weight: its count in a query, or its weight after query expansion. */
export interface WeightedTerm {
  term: string;
  weight: number;
}

/**
 * Whether a feedback lexeme may be added to a query by expansion. As in Anserini's RM3, terms that
 * carry no topical meaning of their own are left out: one-character lexemes, numbers, and tokens
 * that are not plain words (paths, hosts, e-mail addresses).
 */
export function isExpansionTerm(lexeme: string): boolean {
  return [...lexeme].length >= 2 && /^[\p{L}\p{M}\p{N}]+$/u.test(lexeme) && /\p{L}/u.test(lexeme);
}
