import type { Retriever } from "../retrieval/retriever.js";
import type { CollectionRow, SearchHit } from "../store/store.js";
import { type AnswerEvent, type ChatModel, streamAnswer } from "./answer.js";

const hit = (n: number): SearchHit => ({
  documentId: `d${n}`,
  chunkId: `d${n}#0`,
  index: 0,
  score: 1 / n,
  text: `passage ${n}`,
  metadata: {},
});
const col = { id: 1, team: "t", name: "c" } as CollectionRow;
const retriever = { search: async () => [hit(1), hit(2)] } as unknown as Retriever;

/** A model that streams the given deltas, then its usage. */
function model(deltas: string[]): ChatModel & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    chat: async () => {
      throw new Error("not used");
    },
    async *chatStream(turns, opts) {
      seen.push(opts.team, turns.at(-1)?.content ?? "");
      for (const delta of deltas) yield { delta };
      yield { usage: { promptTokens: 30, completionTokens: deltas.length } };
    },
  };
}

async function all(gen: AsyncIterable<AnswerEvent>): Promise<AnswerEvent[]> {
  const out: AnswerEvent[] = [];
  for await (const ev of gen) out.push(ev);
  return out;
}

const input = { query: "what?", topK: 2, model: "m", maxTokens: 10, keyId: "k", requestId: "r" };

describe("streamAnswer", () => {
  test("passages, then checked text as it comes, then the answer with citations and usage", async () => {
    const chat = model(["Shock [", "1] forms", " [9] ahead [2", "]."]);
    const events = await all(streamAnswer({ retriever, chat }, col, input));
    expect(events[0]).toEqual({ passages: [hit(1), hit(2)] });
    const deltas = events.flatMap((e) => ("delta" in e ? [e.delta] : []));
    expect(deltas).toEqual(["Shock ", "[1] forms", "  ahead ", "[2]."]);
    const last = events.at(-1);
    expect(last && "final" in last ? last.final : undefined).toMatchObject({
      text: "Shock [1] forms  ahead [2].",
      citations: [
        { number: 1, hit: hit(1) },
        { number: 2, hit: hit(2) },
      ],
      invalid: [9],
      promptTokens: 30,
      completionTokens: 4,
    });
    // The collection's team is metered; the prompt numbers the passages.
    expect(chat.seen[0]).toBe("t");
    expect(chat.seen[1]).toContain("[2] passage 2");
  });
});
