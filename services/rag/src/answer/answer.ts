import type { Retriever, SearchRequest } from "../retrieval/retriever.js";
import type { CollectionRow, SearchHit } from "../store/store.js";
import { answerPrompt, type ChatTurn, checkCitations } from "./citations.js";

/** A chat model (serving's Generate in production). */
export interface ChatModel {
  chat(
    turns: ChatTurn[],
    opts: {
      model: string;
      maxTokens: number;
      keyId: string;
      requestId: string;
      team: string;
      signal?: AbortSignal;
    },
  ): Promise<{ text: string; promptTokens: number; completionTokens: number }>;
}

export interface AnswerInput extends SearchRequest {
  model: string;
  maxTokens: number;
  keyId: string;
  requestId: string;
}

export interface Answer {
  text: string;
  citations: { number: number; hit: SearchHit }[];
  invalid: number[];
  passages: SearchHit[];
  promptTokens: number;
  completionTokens: number;
}

/** Retrieve, answer from the numbered passages, and keep only citations of retrieved passages. */
export async function answerQuestion(
  deps: { retriever: Retriever; chat: ChatModel },
  col: CollectionRow,
  req: AnswerInput,
): Promise<Answer> {
  const passages = await deps.retriever.search(col, req);
  const out = await deps.chat.chat(answerPrompt(req.query, passages), {
    model: req.model,
    maxTokens: req.maxTokens,
    keyId: req.keyId,
    requestId: req.requestId,
    team: col.team,
    signal: req.signal,
  });
  const checked = checkCitations(out.text, passages.length);
  return {
    text: checked.text,
    citations: checked.cited.map((n) => ({ number: n, hit: passages[n - 1] as SearchHit })),
    invalid: checked.invalid,
    passages,
    promptTokens: out.promptTokens,
    completionTokens: out.completionTokens,
  };
}
