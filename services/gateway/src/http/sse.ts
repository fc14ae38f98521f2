import type { ServerResponse } from "node:http";

/** Server-sent events in OpenAI's framing: `data: <json>\n\n`, ending with `data: [DONE]`. */
export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  open(headers: Record<string, string>): void {
    this.res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...headers,
    });
    this.res.flushHeaders();
  }

  /** Resolves once the event is handed to the socket (waits for drain under back-pressure). */
  send(data: unknown): Promise<void> {
    if (this.res.destroyed) return Promise.resolve();
    if (this.res.write(`data: ${JSON.stringify(data)}\n\n`)) return Promise.resolve();
    // A closed socket never drains, so closing also releases the writer.
    return new Promise((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.off("close", done);
        resolve();
      };
      this.res.once("drain", done);
      this.res.once("close", done);
    });
  }

  done(): void {
    if (!this.res.destroyed) this.res.end("data: [DONE]\n\n");
  }
}
