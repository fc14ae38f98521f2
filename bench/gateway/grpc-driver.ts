import { randomUUID } from "node:crypto";
import { credentials } from "@grpc/grpc-js";
import { serving } from "@sloughgpt/proto";
import { callStream, clientOptions } from "@sloughgpt/runtime";
import { checkText, type Driver, type Workload, WrongAnswerError } from "./driver.js";

/** serving's Generate stream called directly, with the request the gateway builds from the chat body. */
export class GrpcDriver implements Driver {
  readonly path = "grpc";
  private readonly client: serving.ServingServiceClient;

  constructor(
    address: string,
    private readonly model: string,
    private readonly workload: Workload,
    private readonly expected: string,
  ) {
    this.client = new serving.ServingServiceClient(address, credentials.createInsecure(), clientOptions);
  }

  async request(signal: AbortSignal): Promise<void> {
    const req: serving.GenerateRequest = {
      model: this.model,
      input: { $case: "chat", chat: { messages: this.workload.messages } },
      maxTokens: this.workload.maxTokens,
      temperature: 0,
      stop: [],
      responseFormat: undefined,
      // What the gateway sends without a Cache-Control header: the response cache may answer.
      cache: serving.CacheMode.CACHE_MODE_UNSPECIFIED,
      keyId: "bench",
      team: "bench",
      requestId: randomUUID(),
      // As the gateway asks for a non-streamed chat: the whole text at the end.
      stream: false,
    };
    let text = "";
    let cache: serving.CacheResult | undefined;
    for await (const msg of callStream(this.client.generate.bind(this.client), req, { signal })) {
      if (msg.event?.$case === "delta") text += msg.event.delta;
      else if (msg.event?.$case === "final") cache = msg.event.final.cache;
    }
    if (cache !== serving.CacheResult.CACHE_RESULT_HIT) {
      throw new WrongAnswerError(
        `the grpc path's answer was not a cache hit (${serving.CacheResult[cache ?? 0]})`,
      );
    }
    checkText(this.path, text, this.expected);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
