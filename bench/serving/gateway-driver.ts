import OpenAI from "openai";
import { type Driver, firstTextTimer, type Sample, type Workload } from "./driver.js";

/** The public API: streamed /v1/completions through the official openai SDK. */
export class GatewayDriver implements Driver {
  readonly path = "gateway";
  private readonly client: OpenAI;

  constructor(
    gatewayUrl: string,
    apiKey: string,
    private readonly model: string,
    private readonly workload: Workload,
  ) {
    this.client = new OpenAI({ baseURL: `${gatewayUrl}/v1`, apiKey, maxRetries: 0 });
  }

  async complete(signal: AbortSignal): Promise<Sample> {
    const timer = firstTextTimer();
    const stream = await this.client.completions.create(
      {
        model: this.model,
        prompt: this.workload.prompt,
        max_tokens: this.workload.maxTokens,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
      },
      { signal },
    );
    let tokens = 0;
    for await (const chunk of stream) {
      timer.onText(chunk.choices[0]?.text);
      if (chunk.usage) tokens = chunk.usage.completion_tokens;
    }
    return { ttftMs: timer.ttftMs(), tokens };
  }

  async close(): Promise<void> {}
}
