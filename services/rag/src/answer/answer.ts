import type { Retriever, SearchRequest } from "../retrieval/retriever.js";
import type { CollectionRow, SearchHit } from "../store/store.js";
import { CitationStream } from "./citation-stream.js";
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
  /** The same, as the model generates it: text deltas, then the usage. */
  chatStream(turns: ChatTurn[], opts: ChatOptions): AsyncIterable<ChatEvent>;
}

export type ChatOptions = Parameters<ChatModel["chat"]>[1];
export type ChatEvent = { delta: string } | { usage: { promptTokens: number; completionTokens: number } };

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

/** The model's turns and options for answering from `passages`, metered to the collection's team. */
function answerCall(col: CollectionRow, req: AnswerInput, passages: SearchHit[]): [ChatTurn[], ChatOptions] {
  return [
    answerPrompt(req.query, passages),
    {
      model: req.model,
      maxTokens: req.maxTokens,
      keyId: req.keyId,
      requestId: req.requestId,
      team: col.team,
      signal: req.signal,
    },
  ];
}

/** Retrieve, answer from the numbered passages, and keep only citations of retrieved passages. */
export async function answerQuestion(
  deps: { retriever: Retriever; chat: ChatModel },
  col: CollectionRow,
  req: AnswerInput,
): Promise<Answer> {
  const passages = await deps.retriever.search(col, req);
  const out = await deps.chat.chat(...answerCall(col, req, passages));
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

export type AnswerEvent = { passages: SearchHit[] } | { delta: string } | { final: Answer };

/**
 * `answerQuestion`, streamed: the passages once retrieved, then the answer's text as the model writes it
 * with each citation checked as soon as it is complete (see CitationStream), then the checked answer.
 */
export async function* streamAnswer(
  deps: { retriever: Retriever; chat: ChatModel },
  col: CollectionRow,
  req: AnswerInput,
): AsyncGenerator<AnswerEvent> {
  const passages = await deps.retriever.search(col, req);
  yield { passages };
  const citations = new CitationStream(passages.length);
  let text = "";
  let usage = { promptTokens: 0, completionTokens: 0 };
  const stream = deps.chat.chatStream(...answerCall(col, req, passages));
  for await (const ev of stream) {
    if ("usage" in ev) {
      usage = ev.usage;
      continue;
    }
    const ready = citations.push(ev.delta);
    text += ready;
    if (ready) yield { delta: ready };
  }
  const rest = citations.end();
  text += rest;
  if (rest) yield { delta: rest };
  yield {
    final: {
      text,
      citations: citations.cited.map((n) => ({ number: n, hit: passages[n - 1] as SearchHit })),
      invalid: citations.invalid,
      passages,
      ...usage,
    },
  };
}
