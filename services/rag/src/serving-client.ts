import { credentials } from "@grpc/grpc-js";
import { serving } from "@sloughgpt/proto";
import { callUnary, clientOptions } from "@sloughgpt/runtime";
import type { Embedder } from "./embedding/embedder.js";

/** Embedder over serving's gRPC Embed. */
export class ServingEmbedder implements Embedder {
  private readonly client: serving.ServingServiceClient;

  constructor(
    address: string,
    private readonly timeoutMs: number,
  ) {
    this.client = new serving.ServingServiceClient(address, credentials.createInsecure(), clientOptions);
  }

  async embed(model: string, texts: string[], signal?: AbortSignal): Promise<number[][]> {
    const res = await callUnary(
      this.client.embed.bind(this.client),
      { model, input: texts, keyId: "", requestId: "", team: "" },
      { deadlineMs: this.timeoutMs, ...(signal ? { signal } : {}) },
    );
    return res.embeddings.map((e) => e.values);
  }

  close(): void {
    this.client.close();
  }
}
