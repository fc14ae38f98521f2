import { AckPolicy, type ConsumerConfig, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { Bus } from "@sloughgpt/bus";
import { childTrace, type Logger, parseTraceparent, withTrace } from "@sloughgpt/runtime";
import { batches } from "./batches.js";

export interface BatchConsumerOptions<T> {
  /** Stream and subject relative to the bus namespace, e.g. `USAGE` and `usage.generation`. */
  stream: string;
  subject: string;
  durable: string;
  batchSize: number;
  /** How long a batch waits for more messages after its first. */
  lingerMs: number;
  /** Unacknowledged messages are redelivered after this. */
  ackWaitMs: number;
  /** Turns a payload into an item; a throw means the message can never succeed and it is terminated. */
  parse(data: unknown): T;
  /** Resolves once the items' effects are committed; only then are their messages acknowledged. */
  handle(items: T[]): Promise<void>;
  /** After each batch: its size and the messages still waiting in the stream for this consumer. */
  onBatch?(info: { size: number; pending: number }): void;
  onRejected?(err: unknown): void;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * Creates the durable consumer, or updates one made with other settings (an older release's). No
 * delivery limit: a record must outlive a database outage, and the stream's max age bounds it.
 */
async function ensureConsumer(bus: Bus, o: BatchConsumerOptions<unknown>): Promise<void> {
  const stream = bus.stream(o.stream);
  const settings = {
    ack_wait: o.ackWaitMs * 1e6,
    max_deliver: -1,
    max_ack_pending: Math.max(1000, o.batchSize * 4),
  } satisfies Partial<ConsumerConfig>;
  const exists = await bus.jsm.consumers.info(stream, o.durable).then(
    () => true,
    (err: unknown) => {
      if (err instanceof Error && /not found/i.test(err.message)) return false;
      throw err;
    },
  );
  if (exists) {
    await bus.jsm.consumers.update(stream, o.durable, settings);
    return;
  }
  await bus.jsm.consumers.add(stream, {
    ...settings,
    durable_name: o.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: bus.subject(o.subject),
  });
}

/** An ack or nak on a closed connection throws; the message is then redelivered, which is safe. */
function settle(msg: JsMsg, how: "ack" | "term" | { nakMs: number }, logger: Logger): void {
  try {
    if (how === "ack") msg.ack();
    // A bare TERM: servers before 2.10 ignore a TERM that carries a reason.
    else if (how === "term") msg.term();
    else msg.nak(how.nakMs);
  } catch (err) {
    logger.warn({ err, seq: msg.seq }, "Failed to settle a message; it will be redelivered");
  }
}

const backoffMs = (msg: JsMsg) => Math.min(30_000, 500 * 2 ** Math.min(msg.info.deliveryCount - 1, 6));

/**
 * Handles a batch in one `handle` call. If that fails, each item is retried alone, so one item
 * the store refuses cannot hold back the others; what still fails is redelivered with backoff.
 */
async function processBatch<T>(msgs: JsMsg[], o: BatchConsumerOptions<T>): Promise<void> {
  const items: { msg: JsMsg; item: T }[] = [];
  for (const msg of msgs) {
    try {
      items.push({ msg, item: o.parse(msg.json()) });
    } catch (err) {
      o.logger.error({ err, subject: msg.subject, seq: msg.seq }, "Rejected an invalid message");
      o.onRejected?.(err);
      settle(msg, "term", o.logger);
    }
  }
  if (items.length === 0) return;
  try {
    await o.handle(items.map((i) => i.item));
    for (const i of items) settle(i.msg, "ack", o.logger);
    return;
  } catch (err) {
    o.logger.warn({ err, size: items.length }, "Failed to handle a batch; retrying its messages one by one");
  }
  for (const { msg, item } of items) {
    try {
      await o.handle([item]);
      settle(msg, "ack", o.logger);
    } catch (err) {
      o.logger.warn({ err, seq: msg.seq, delay: backoffMs(msg) }, "Failed to handle a message; redelivering");
      settle(msg, { nakMs: backoffMs(msg) }, o.logger);
    }
  }
}

/**
 * A durable pull consumer that commits messages in batches and acknowledges each batch only after
 * `handle` resolved: a crash before the ack means redelivery, never loss. Returns when `signal`
 * aborts (after the batch in hand) or the subscription ends; throws on set-up failures.
 */
export async function consumeBatches<T>(bus: Bus, o: BatchConsumerOptions<T>): Promise<void> {
  await ensureConsumer(bus, o as BatchConsumerOptions<unknown>);
  const consumer = await bus.js.consumers.get(bus.stream(o.stream), o.durable);
  const messages = await consumer.consume({ max_messages: o.batchSize * 2 });
  const stop = () => void messages.close();
  o.signal.addEventListener("abort", stop, { once: true });
  // An abort during set-up happened before the listener existed.
  if (o.signal.aborted) stop();
  try {
    const source = batches(messages, {
      max: o.batchSize,
      lingerMs: o.lingerMs,
      buffered: () => messages.getPending(),
    });
    for await (const batch of source) {
      const first = batch[0] as JsMsg;
      await withTrace(childTrace(parseTraceparent(first.headers?.get("traceparent"))), () =>
        processBatch(batch, o),
      );
      o.onBatch?.({ size: batch.length, pending: (batch[batch.length - 1] as JsMsg).info.pending });
    }
  } finally {
    o.signal.removeEventListener("abort", stop);
  }
}
