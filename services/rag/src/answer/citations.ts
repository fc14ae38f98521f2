import type { SearchHit } from "../store/store.js";

export interface ChatTurn {
  role: "system" | "user";
  content: string;
}

/** Characters of each passage put in the prompt: keeps the prompt bounded whatever the chunk size. */
export const PASSAGE_CHARS = 1200;

const SYSTEM = [
  "Answer the question using only the numbered passages.",
  "Cite the passages you use with their numbers in square brackets, like [1] or [2][3].",
  "If the passages do not contain the answer, say so.",
].join(" ");

/** The chat turns for an answer: passages numbered from 1 in retrieval order. Pure. */
export function answerPrompt(question: string, passages: readonly Pick<SearchHit, "text">[]): ChatTurn[] {
  const numbered = passages.map((p, i) => `[${i + 1}] ${p.text.slice(0, PASSAGE_CHARS)}`).join("\n\n");
  return [
    { role: "system", content: SYSTEM },
    { role: "user", content: `Passages:\n\n${numbered}\n\nQuestion: ${question}` },
  ];
}

export interface CheckedAnswer {
  /** The answer with citations of passages that were not retrieved removed. */
  text: string;
  /** Retrieved passages the answer cites, as 1-based numbers, in order of first citation. */
  cited: number[];
  /** Numbers the answer cited that match no retrieved passage (dropped from `text`). */
  invalid: number[];
}

const CITATION = /\[(\d{1,4})\]/g;

/**
 * Checks every `[n]` in an answer against the `count` retrieved passages: valid ones are listed,
 * the others dropped from the text and reported. Pure.
 */
export function checkCitations(answer: string, count: number): CheckedAnswer {
  const cited: number[] = [];
  const invalid: number[] = [];
  const text = answer.replace(CITATION, (whole, digits: string) => {
    const n = Number(digits);
    const list = n >= 1 && n <= count ? cited : invalid;
    if (!list.includes(n)) list.push(n);
    return list === cited ? whole : "";
  });
  return { text, cited, invalid };
}
