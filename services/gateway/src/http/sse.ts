import { SseWriter, toHttpError } from "@sloughgpt/openai";
import type { FastifyReply, FastifyRequest } from "fastify";

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
