import { randomUUID } from "node:crypto";
import { credentials } from "@grpc/grpc-js";
import { serving } from "@sloughgpt/proto";
import { callStream, clientOptions } from "@sloughgpt/runtime";
import { type Driver, firstTextTimer, type Sample, type Workload } from "./driver.js";

/** serving's ServingService.Generate stream, called directly as the gateway calls it. */
export class GrpcDriver implements Driver {
  readonly path = "grpc";
  private readonly client: serving.ServingServiceClient;

  constructor(
    address: string,
    private readonly model: string,
    private readonly workload: Workload,
  ) {
    this.client = new serving.ServingServiceClient(address, credentials.createInsecure(), clientOptions);
  }

  async complete(signal: AbortSignal): Promise<Sample> {
    const req: serving.GenerateRequest = {
      model: this.model,
      input: { $case: "prompt", prompt: this.workload.prompt },
      maxTokens: this.workload.maxTokens,
      temperature: 0,
      stop: [],
      responseFormat: undefined,
      cache: serving.CacheMode.CACHE_MODE_BYPASS,
      keyId: "bench",
      team: "bench",
      requestId: randomUUID(),
    };
    const timer = firstTextTimer();
    let tokens = 0;
    for await (const msg of callStream(this.client.generate.bind(this.client), req, { signal })) {
      if (msg.event?.$case === "delta") timer.onText(msg.event.delta);
      else if (msg.event?.$case === "final") tokens = msg.event.final.usage?.completionTokens ?? 0;
    }
    return { ttftMs: timer.ttftMs(), tokens };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
