import { randomUUID } from "node:crypto";
import { type Bus, publish, subjects } from "@sloughgpt/bus";
import type { Logger } from "@sloughgpt/runtime";

export interface UsageRecord {
  req: { model: string; keyId: string; team: string; requestId: string };
  usage: { promptTokens: number; completionTokens: number; cachedTokens?: number };
  latencyMs: number;
  status: "ok" | "cancelled" | "error";
  cacheHit?: boolean;
  logger: Logger;
}

/**
 * One usage event per request, published after the response is complete so a slow NATS never
 * delays a client; retries reuse the msgId, so JetStream stores it once. drain() awaits them.
 */
export class UsageMeter {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly bus: Bus) {}

  record(u: UsageRecord): void {
    const id = randomUUID();
    const event = {
      id,
      model: u.req.model,
      keyId: u.req.keyId,
      team: u.req.team,
      requestId: u.req.requestId,
      promptTokens: u.usage.promptTokens,
      completionTokens: u.usage.completionTokens,
      cachedTokens: u.usage.cachedTokens ?? 0,
      cacheHit: u.cacheHit ?? false,
      latencyMs: u.latencyMs,
      status: u.status,
      finishedAt: new Date().toISOString(),
    };
    // A moment later: the response's last bytes (the final message and the end of the call, which
    // leave on the following turns of the event loop) go out before encoding and publishing the event.
    // Publishing first held every response's end back by about 1 ms on this machine (measured).
    const p = new Promise<void>((resolve) => setTimeout(resolve, PUBLISH_DELAY_MS))
      .then(() => publishWithRetry(() => publish(this.bus, subjects.usageGeneration, event, { msgId: id })))
      .catch((err: unknown) =>
        u.logger.error({ err, requestId: u.req.requestId, usageId: id }, "Failed to publish usage event"),
      );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Waits for every event recorded so far, and for those recorded while it waits. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

const PUBLISH_DELAY_MS = 2;

async function publishWithRetry(fn: () => Promise<void>, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
  }
}
