import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import { toHttpError } from "./errors.js";

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

/**
 * Relays an upstream gRPC stream as server-sent events. Its first message is awaited before the
 * response is committed, so an early error (an unknown model, a missing collection) keeps its HTTP
 * status; `relay` then writes the events, and an error after that becomes an error event (unless the
 * client is gone: `signal`) before `[DONE]`.
 */
export async function relaySse<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  signal: AbortSignal,
  stream: AsyncGenerator<T>,
  relay: (sse: SseWriter, messages: AsyncIterable<T>) => Promise<void>,
): Promise<void> {
  const first = await stream.next();
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  sse.open({ ...(reply.getHeaders() as Record<string, string>), "x-request-id": String(request.id) });
  async function* messages(): AsyncGenerator<T> {
    for (let it = first; !it.done; it = await stream.next()) yield it.value;
  }
  try {
    await relay(sse, messages());
  } catch (err) {
    if (!signal.aborted) {
      const e = toHttpError(err);
      request.log.warn({ status: e.status }, "Failed stream after it started");
      await sse.send(e.body);
    }
  }
  sse.done();
}
