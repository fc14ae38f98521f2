import { credentials } from "@grpc/grpc-js";
import { serving } from "@sloughgpt/proto";
import { callStream, callUnary, clientOptions } from "@sloughgpt/runtime";
import type { ChatEvent, ChatModel, ChatOptions } from "./answer/answer.js";
import type { ChatTurn } from "./answer/citations.js";
import type { Tokenizer } from "./chunking/tokenizer.js";
import type { Embedder } from "./embedding/embedder.js";

/** Embedder, tokenizer and chat model over serving's gRPC Embed, Tokenize and Generate. */
export class ServingClient implements Embedder, Tokenizer, ChatModel {
  private readonly client: serving.ServingServiceClient;

  constructor(
    address: string,
    private readonly timeoutMs: number,
  ) {
    this.client = new serving.ServingServiceClient(address, credentials.createInsecure(), clientOptions);
  }

  /** Metered to `team` (the collection's); no key is known for ingestion and search embeddings. */
  async embed(model: string, texts: string[], signal?: AbortSignal, team = ""): Promise<number[][]> {
    const res = await callUnary(
      this.client.embed.bind(this.client),
      { model, input: texts, keyId: "", requestId: "", team },
      { deadlineMs: this.timeoutMs, ...(signal ? { signal } : {}) },
    );
    return res.embeddings.map((e) => e.values);
  }

  async tokenize(model: string, texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const res = await callUnary(
      this.client.tokenize.bind(this.client),
      { model, input: texts },
      { deadlineMs: this.timeoutMs, ...(signal ? { signal } : {}) },
    );
    return res.tokens.map((t) => t.starts);
  }

  async chat(
    turns: ChatTurn[],
    opts: ChatOptions,
  ): Promise<{ text: string; promptTokens: number; completionTokens: number }> {
    let text = "";
    let usage = { promptTokens: 0, completionTokens: 0 };
    // Not streamed: serving sends the whole text in one delta.
    for await (const ev of this.generate(turns, opts, false)) {
      if ("delta" in ev) text += ev.delta;
      else usage = ev.usage;
    }
    return { text, ...usage };
  }

  chatStream(turns: ChatTurn[], opts: ChatOptions): AsyncGenerator<ChatEvent> {
    return this.generate(turns, opts, true);
  }

  private async *generate(turns: ChatTurn[], opts: ChatOptions, stream: boolean): AsyncGenerator<ChatEvent> {
    for await (const msg of callStream(
      this.client.generate.bind(this.client),
      generateRequest(turns, opts, stream),
      { deadlineMs: this.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) },
    )) {
      if (msg.event?.$case === "delta") yield { delta: msg.event.delta };
      else if (msg.event?.$case === "final" && msg.event.final.usage) yield { usage: msg.event.final.usage };
    }
  }

  close(): void {
    this.client.close();
  }
}

/** Serving's Generate request for an answer: greedy, the caller's identity for metering. */
function generateRequest(turns: ChatTurn[], opts: ChatOptions, stream: boolean): serving.GenerateRequest {
  return {
    model: opts.model,
    input: { $case: "chat", chat: { messages: turns } },
    maxTokens: opts.maxTokens,
    temperature: 0,
    stop: [],
    responseFormat: undefined,
    cache: serving.CacheMode.CACHE_MODE_UNSPECIFIED,
    keyId: opts.keyId,
    team: opts.team,
    requestId: opts.requestId,
    stream,
  };
}
