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

  /**
   * Holds what is sent next until done(): the closing events of a stream (finish reason, usage,
   * `[DONE]`) leave in one TCP segment instead of three, waking the client once.
   */
  hold(): void {
    if (!this.res.destroyed && this.res.writableCorked === 0) this.res.cork();
  }

  /** Ends the stream with `[DONE]`, sending anything held with it. */
  done(): void {
    if (!this.res.destroyed) this.res.end("data: [DONE]\n\n");
  }
}
