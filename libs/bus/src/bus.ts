import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import {
  childTrace,
  currentTrace,
  formatTraceparent,
  type Logger,
  parseTraceparent,
  withTrace,
} from "@sloughgpt/runtime";
import type { z } from "zod";
import { STREAMS, type SubjectDef } from "./subjects.js";

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  namespace: string;
  /** Full subject for a relative one: `<namespace>.<subject>`. */
  subject(rel: string): string;
  /** Full stream name: `<NAMESPACE>_<STREAM>`. */
  stream(rel: string): string;
  close(): Promise<void>;
}

export async function connectBus(opts: {
  url: string;
  namespace: string;
  name: string;
  logger: Logger;
}): Promise<Bus> {
  const nc = await connect({
    servers: opts.url.split(","),
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
  });
  void logStatus(nc, opts.logger);
  const jsm = await jetstreamManager(nc);
  return {
    nc,
    js: jetstream(nc),
    jsm,
    namespace: opts.namespace,
    subject: (rel) => `${opts.namespace}.${rel}`,
    stream: (rel) => `${opts.namespace.toUpperCase()}_${rel}`,
    close: async () => {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}

async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const s of nc.status()) {
    if (s.type === "disconnect" || s.type === "reconnect")
      logger.warn({ status: s.type }, "Changed NATS connection");
  }
}

/** Creates or updates the platform's streams (idempotent; safe from every replica). */
export async function ensureStreams(bus: Bus, names: (keyof typeof STREAMS)[]): Promise<void> {
  for (const name of names) {
    const def = STREAMS[name];
    const config = {
      name: bus.stream(name),
      subjects: def.subjects.map((s) => bus.subject(s)),
      max_age: def.maxAgeDays * 24 * 3600 * 1e9,
      duplicate_window: 120 * 1e9,
    };
    try {
      await bus.jsm.streams.info(config.name);
      await bus.jsm.streams.update(config.name, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await bus.jsm.streams.add(config);
    }
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}

/**
 * Publishes to JetStream and waits for the stream's ack. `msgId` makes a retry of the
 * same event a no-op inside the duplicate window.
 */
export async function publish<S extends z.ZodType>(
  bus: Bus,
  def: SubjectDef<S>,
  data: z.input<S>,
  opts: { msgId: string },
): Promise<void> {
  const payload = def.schema.parse(data);
  const h = headers();
  h.set("traceparent", formatTraceparent(childTrace(currentTrace())));
  await bus.js.publish(bus.subject(def.subject), JSON.stringify(payload), { msgID: opts.msgId, headers: h });
}

export interface ConsumeOptions<S extends z.ZodType> {
  def: SubjectDef<S>;
  durable: string;
  logger: Logger;
  signal: AbortSignal;
  /** Awaited before the ack: a message is acknowledged only after its effects are committed. */
  handler: (data: z.infer<S>, msg: JsMsg) => Promise<void>;
  maxDeliver?: number;
  /**
   * The server deletes the consumer after this long without a pull: for durables named after a
   * replica (a pod), which would otherwise pile up as pods are replaced. Unset: kept forever.
   */
  inactiveThresholdMs?: number;
}

/** Durable pull consumer with explicit acks; invalid payloads are terminated, failures redelivered with backoff. */
export async function consume<S extends z.ZodType>(bus: Bus, opts: ConsumeOptions<S>): Promise<void> {
  const stream = bus.stream(opts.def.stream);
  await bus.jsm.consumers.add(stream, {
    durable_name: opts.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: bus.subject(opts.def.subject),
    max_deliver: opts.maxDeliver ?? 10,
    ack_wait: 30 * 1e9,
    ...(opts.inactiveThresholdMs ? { inactive_threshold: opts.inactiveThresholdMs * 1e6 } : {}),
  });
  const consumer = await bus.js.consumers.get(stream, opts.durable);
  const messages = await consumer.consume({ max_messages: 64 });
  const stop = () => void messages.close();
  opts.signal.addEventListener("abort", stop, { once: true });
  // An abort during set-up happened before the listener existed.
  if (opts.signal.aborted) stop();
  try {
    for await (const msg of messages) await handleOne(msg, opts);
  } finally {
    opts.signal.removeEventListener("abort", stop);
  }
}

async function handleOne<S extends z.ZodType>(msg: JsMsg, opts: ConsumeOptions<S>): Promise<void> {
  const trace = childTrace(parseTraceparent(msg.headers?.get("traceparent")));
  await withTrace(trace, async () => {
    let data: z.infer<S>;
    try {
      data = opts.def.schema.parse(msg.json());
    } catch (err) {
      opts.logger.error({ err, subject: msg.subject, seq: msg.seq }, "Rejected an invalid message");
      // A bare TERM: servers before 2.10 ignore a TERM that carries a reason.
      msg.term();
      return;
    }
    try {
      await opts.handler(data, msg);
      msg.ack();
    } catch (err) {
      const delay = Math.min(30_000, 500 * 2 ** (msg.info.deliveryCount - 1));
      opts.logger.warn(
        { err, subject: msg.subject, seq: msg.seq, delay },
        "Failed to handle message; redelivering",
      );
      msg.nak(delay);
    }
  });
}
