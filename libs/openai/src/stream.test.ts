import type { ServerResponse } from "node:http";
import { serving } from "@sloughgpt/proto";
import { SseWriter } from "./sse.js";
import { CompletionChunks } from "./stream.js";

/** An SseWriter whose events are kept in order, as parsed JSON. */
function recorder() {
  const events: unknown[] = [];
  const res = {
    destroyed: false,
    writableCorked: 0,
    write: (s: string) => {
      events.push(JSON.parse(s.replace(/^data: /, "")));
      return true;
    },
    cork: () => undefined,
  } as unknown as ServerResponse;
  return { sse: new SseWriter(res), events };
}

const meta = { id: "x-1", created: 5, model: "m" };
const final: serving.GenerateResponse = {
  event: {
    $case: "final",
    final: {
      finishReason: serving.FinishReason.FINISH_REASON_LENGTH,
      usage: { promptTokens: 3, completionTokens: 2, cachedTokens: 0 },
      cache: serving.CacheResult.CACHE_RESULT_MISS,
    },
  },
};

async function run(kind: "chat" | "text", includeUsage: boolean) {
  const { sse, events } = recorder();
  const chunks = new CompletionChunks(sse, { kind, meta, includeUsage });
  await chunks.start();
  await chunks.write({ event: { $case: "delta", delta: "Hi" } });
  await chunks.write(final);
  await chunks.end();
  return events as { object: string; choices: Record<string, unknown>[]; usage?: unknown }[];
}

describe("CompletionChunks", () => {
  it("opens a chat with the assistant role, then sends deltas, the finish reason and the usage", async () => {
    const events = await run("chat", true);
    expect(events.map((e) => e.choices[0] ?? e.usage)).toEqual([
      { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
      { index: 0, delta: { content: "Hi" }, logprobs: null, finish_reason: null },
      { index: 0, delta: {}, logprobs: null, finish_reason: "length" },
      {
        prompt_tokens: 3,
        completion_tokens: 2,
        total_tokens: 5,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    ]);
    expect(events.every((e) => e.object === "chat.completion.chunk")).toBe(true);
  });

  it("sends text completions without an opening chunk, and no usage unless asked", async () => {
    const events = await run("text", false);
    expect(events.map((e) => [e.object, e.choices[0]?.text, e.choices[0]?.finish_reason])).toEqual([
      ["text_completion", "Hi", null],
      ["text_completion", "", "length"],
    ]);
  });
});
