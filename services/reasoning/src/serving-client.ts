import { credentials } from "@grpc/grpc-js";
import { serving } from "@sloughgpt/proto";
import { callStream, clientOptions } from "@sloughgpt/runtime";
import type { ChatTurn, Completion, Llm } from "./strategies/llm.js";

/** Llm over serving's gRPC Generate stream. */
export class ServingLlm implements Llm {
  private readonly client: serving.ServingServiceClient;

  constructor(
    address: string,
    private readonly timeoutMs: number,
  ) {
    this.client = new serving.ServingServiceClient(address, credentials.createInsecure(), clientOptions);
  }

  async chat(
    turns: ChatTurn[],
    opts: {
      model: string;
      maxTokens: number;
      keyId: string;
      team: string;
      requestId: string;
      signal: AbortSignal;
    },
  ): Promise<Completion> {
    const req: serving.GenerateRequest = {
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
    };
    let text = "";
    let usage = { promptTokens: 0, completionTokens: 0 };
    for await (const msg of callStream(this.client.generate.bind(this.client), req, {
      deadlineMs: this.timeoutMs,
      signal: opts.signal,
    })) {
      if (msg.event?.$case === "delta") text += msg.event.delta;
      else if (msg.event?.$case === "final" && msg.event.final.usage) usage = msg.event.final.usage;
    }
    return { text, ...usage };
  }

  close(): void {
    this.client.close();
  }
}
