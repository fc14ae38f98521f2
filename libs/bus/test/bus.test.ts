import { randomUUID } from "node:crypto";
import { jest } from "@jest/globals";
import type { JsMsg } from "@nats-io/jetstream";
import {
  type Bus,
  connectBus,
  consume,
  defineSubject,
  ensureStreams,
  publish,
  subjects,
  type UsageEvent,
  usageEvent,
} from "@sloughgpt/bus";
import { childTrace, createLogger, currentTrace, type TraceContext, withTrace } from "@sloughgpt/runtime";
import { DEFAULT_NATS_URL, deleteNamespace, testNamespace } from "@sloughgpt/testing";

jest.setTimeout(15_000);

const logger = createLogger({ service: "test", level: "silent" });
const namespace = testNamespace();
let bus: Bus;

const openBus = (name: string) => connectBus({ url: DEFAULT_NATS_URL, namespace, name, logger });

beforeAll(async () => {
  bus = await openBus("bus-test");
  await ensureStreams(bus, ["USAGE"]);
});

afterAll(async () => {
  await bus?.close();
  await deleteNamespace(DEFAULT_NATS_URL, namespace);
});

/** A subject of its own per test, inside the USAGE stream, so durable consumers see only their messages. */
const usageSubject = (name: string) =>
  defineSubject({ stream: "USAGE", subject: `usage.${name}`, schema: usageEvent });

function usage(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return {
    id: randomUUID(),
    model: "tiny-llama",
    keyId: "key-1",
    team: "default",
    requestId: randomUUID(),
    promptTokens: 7,
    completionTokens: 3,
    cachedTokens: 0,
    cacheHit: false,
    latencyMs: 12.5,
    status: "ok",
    finishedAt: new Date().toISOString(),
    ...overrides,
  };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Handler = (data: UsageEvent, msg: JsMsg) => Promise<void>;

/** Runs `consume()` until `stop()`; `stop()` resolves once its promise has settled. */
function startConsumer(b: Bus, def: ReturnType<typeof usageSubject>, durable: string, handler: Handler) {
  const ac = new AbortController();
  const done = consume(b, { def, durable, logger, signal: ac.signal, handler });
  return {
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

const consumerInfo = (def: ReturnType<typeof usageSubject>, durable: string) =>
  bus.jsm.consumers.info(bus.stream(def.stream), durable);

/** Everything delivered has been acked or terminated (false while the consumer is still being created). */
const settled = async (def: ReturnType<typeof usageSubject>, durable: string) => {
  const info = await consumerInfo(def, durable).catch(() => undefined);
  return info?.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq > 0;
};

describe("ensureStreams", () => {
  it("is idempotent and binds the stream to the namespaced subjects", async () => {
    await ensureStreams(bus, ["USAGE"]);
    await ensureStreams(bus, ["USAGE"]);

    const info = await bus.jsm.streams.info(bus.stream("USAGE"));
    expect(info.config.name).toBe(`${namespace.toUpperCase()}_USAGE`);
    expect(info.config.subjects).toEqual([`${namespace}.usage.>`]);
    expect(info.config.duplicate_window).toBe(120 * 1e9);
  });
});

describe("publish and consume", () => {
  it("delivers a published usage event to a durable consumer and acks it", async () => {
    const def = subjects.usageGeneration;
    const event = usage();
    const publisherTrace: TraceContext = childTrace();
    const seen: { data: UsageEvent; traceparent: string | undefined; traceId: string | undefined }[] = [];
    const consumer = startConsumer(bus, def, "roundtrip", async (data, msg) => {
      seen.push({ data, traceparent: msg.headers?.get("traceparent"), traceId: currentTrace()?.traceId });
    });

    await withTrace(publisherTrace, () => publish(bus, def, event, { msgId: event.id }));
    await until(() => seen.length === 1, "the event");
    await until(() => settled(def, "roundtrip"), "the ack");
    await consumer.stop();

    expect(seen[0]?.data).toEqual(event);
    expect(seen[0]?.traceparent).toMatch(new RegExp(`^00-${publisherTrace.traceId}-[0-9a-f]{16}-01$`));
    expect(seen[0]?.traceId).toBe(publisherTrace.traceId);
  });

  it("rejects a payload that fails the schema before publishing it", async () => {
    const def = usageSubject("prevalidated");
    const bad = { ...usage(), promptTokens: -1 };

    await expect(publish(bus, def, bad, { msgId: bad.id })).rejects.toThrow();
    const info = await bus.jsm.streams.info(bus.stream("USAGE"), {
      subjects_filter: bus.subject(def.subject),
    });
    expect(info.state.subjects?.[bus.subject(def.subject)] ?? 0).toBe(0);
  });

  it("delivers a message published twice with the same msgId once", async () => {
    const def = usageSubject("dedupe");
    const event = usage();
    const sentinel = usage();
    const seen: string[] = [];

    await publish(bus, def, event, { msgId: event.id });
    await publish(bus, def, event, { msgId: event.id });
    await publish(bus, def, sentinel, { msgId: sentinel.id });
    const consumer = startConsumer(bus, def, "dedupe", async (data) => {
      seen.push(data.id);
    });
    await until(() => seen.includes(sentinel.id), "the sentinel");
    await consumer.stop();

    expect(seen).toEqual([event.id, sentinel.id]);
  });

  it("redelivers a message whose handler failed and acks it once handled", async () => {
    const def = usageSubject("retry");
    const event = usage();
    const deliveries: number[] = [];
    const consumer = startConsumer(bus, def, "retry", async (_data, msg) => {
      deliveries.push(msg.info.deliveryCount);
      if (deliveries.length === 1) throw new Error("database unavailable");
    });

    await publish(bus, def, event, { msgId: event.id });
    await until(() => deliveries.length === 2, "the redelivery");
    await until(() => settled(def, "retry"), "the ack");
    await consumer.stop();

    expect(deliveries).toEqual([1, 2]);
  });

  it("never hands an invalid payload to the handler and goes on with the next valid one", async () => {
    const def = usageSubject("invalid");
    const valid = usage();
    const seen: UsageEvent[] = [];
    const consumer = startConsumer(bus, def, "invalid", async (data) => {
      seen.push(data);
    });

    await bus.js.publish(bus.subject(def.subject), JSON.stringify({ ...usage(), status: "exploded" }));
    await bus.js.publish(bus.subject(def.subject), "not json");
    await publish(bus, def, valid, { msgId: valid.id });
    await until(() => seen.length === 1, "the valid message");
    await consumer.stop();

    expect(seen).toEqual([valid]);
  });

  it("terminates an invalid payload instead of leaving it pending for redelivery", async () => {
    const def = usageSubject("terminated");
    const consumer = startConsumer(bus, def, "terminated", async () => undefined);

    try {
      await bus.js.publish(bus.subject(def.subject), JSON.stringify({ ...usage(), promptTokens: 1.5 }));
      await until(() => settled(def, "terminated"), "the invalid message to be terminated", 2_000);
    } finally {
      await consumer.stop();
    }

    const info = await consumerInfo(def, "terminated");
    expect(info.num_ack_pending).toBe(0);
    expect(info.ack_floor.stream_seq).toBe(info.delivered.stream_seq);
  });

  it("ends consume() when its signal is aborted and handles nothing afterwards", async () => {
    const def = usageSubject("abort");
    const seen: string[] = [];
    const consumer = startConsumer(bus, def, "abort", async (data) => {
      seen.push(data.id);
    });
    const first = usage();
    await publish(bus, def, first, { msgId: first.id });
    await until(() => seen.length === 1, "the consumer to run");

    await consumer.stop();
    const late = usage();
    await publish(bus, def, late, { msgId: late.id });
    await bus.nc.flush();

    expect(seen).toEqual([first.id]);
    expect((await consumerInfo(def, "abort")).num_pending).toBe(1);
  });

  it("ends consume() when its signal is aborted before the consumer is ready", async () => {
    const def = usageSubject("early-abort");
    const consumer = startConsumer(bus, def, "early-abort", async () => undefined);
    const ac = new AbortController();
    ac.abort();
    const preAborted = consume(bus, {
      def,
      durable: "pre-aborted",
      logger,
      signal: ac.signal,
      handler: async () => undefined,
    });

    const stopped = await settlesWithin(consumer.stop(), 2_000);

    expect(stopped).toBe(true);
    expect(await settlesWithin(preAborted, 1_000)).toBe(true);
  });

  it("resumes a restarted durable consumer after the last acked message", async () => {
    const def = usageSubject("restart");
    const [a, b, c] = [usage(), usage(), usage()];
    const firstRun: string[] = [];
    const secondRun: string[] = [];

    const replica = await openBus("bus-test-replica");
    const first = startConsumer(replica, def, "billing", async (data) => {
      firstRun.push(data.id);
    });
    await publish(bus, def, a, { msgId: a.id });
    await publish(bus, def, b, { msgId: b.id });
    await until(() => firstRun.length === 2, "the first run");
    await until(() => settled(def, "billing"), "the first run's acks");
    await first.stop();
    await replica.close();

    await publish(bus, def, c, { msgId: c.id });
    const second = startConsumer(bus, def, "billing", async (data) => {
      secondRun.push(data.id);
    });
    await until(() => secondRun.length === 1, "the restarted consumer");
    await until(() => settled(def, "billing"), "the ack");
    await second.stop();

    expect(firstRun).toEqual([a.id, b.id]);
    expect(secondRun).toEqual([c.id]);
  });
});
