import type { serving } from "@sloughgpt/proto";
import {
  chatChunk,
  contentChunk,
  finishReason,
  type Kind,
  type ResponseMeta,
  usageChunk,
} from "./mapping.js";
import type { SseWriter } from "./sse.js";

/**
 * Writes serving's Generate messages as OpenAI stream chunks: for chat an opening chunk with the
 * assistant role, a chunk per delta, a closing chunk with the finish reason and, when asked
 * (`stream_options.include_usage`), one with the usage. The caller ends the stream (`[DONE]`).
 */
export class CompletionChunks {
  private final: serving.GenerateFinal | undefined;

  constructor(
    private readonly sse: SseWriter,
    private readonly call: { kind: Kind; meta: ResponseMeta; includeUsage: boolean },
  ) {}

  start(): Promise<void> {
    const { kind, meta } = this.call;
    if (kind !== "chat") return Promise.resolve();
    return this.sse.send(chatChunk(meta, { role: "assistant", content: "" }, null));
  }

  async write(msg: serving.GenerateResponse): Promise<void> {
    const ev = msg.event;
    if (ev?.$case === "delta") {
      await this.sse.send(contentChunk(this.call.kind, this.call.meta, ev.delta, null));
    } else if (ev?.$case === "final") {
      this.final = ev.final;
      this.sse.hold();
    }
  }

  async end(): Promise<void> {
    const { kind, meta, includeUsage } = this.call;
    await this.sse.send(contentChunk(kind, meta, undefined, finishReason(this.final?.finishReason)));
    if (includeUsage) await this.sse.send(usageChunk(meta, this.final, kind));
  }
}
