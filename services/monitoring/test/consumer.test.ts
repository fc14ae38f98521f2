import { jest } from "@jest/globals";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { type Bus, connectBus, ensureStreams } from "@sloughgpt/bus";
import { createLogger } from "@sloughgpt/runtime";
import { DEFAULT_NATS_URL, deleteNamespace, testNamespace } from "@sloughgpt/testing";
import { type BatchConsumerOptions, consumeBatches } from "../src/ingest/consumer.js";

// The batched JetStream consumer against the NATS server on 127.0.0.1:4222, with an in-memory
// handler: what is acknowledged, redelivered or terminated.
jest.setTimeout(20_000);

const logger = createLogger({ service: "test", level: "silent" });
const namespace = testNamespace();
let bus: Bus;

beforeAll(async () => {
  bus = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "consumer-test", logger });
  await ensureStreams(bus, ["USAGE"]);
});
afterAll(async () => {
  await bus?.close();
  await deleteNamespace(DEFAULT_NATS_URL, namespace);
});

/** A subject and durable of their own per test, inside the USAGE stream. */
function options(name: string, over: Partial<BatchConsumerOptions<string>>): BatchConsumerOptions<string> {
  return {
    stream: "USAGE",
    subject: `usage.${name}`,
    durable: name,
    batchSize: 50,
    lingerMs: 5,
    ackWaitMs: 1000,
    parse: (d) => String((d as { id: string }).id),
    handle: async () => undefined,
    logger,
    signal: new AbortController().signal,
    ...over,
  };
}

async function publishIds(subject: string, ids: string[]): Promise<void> {
  for (const id of ids) await bus.js.publish(bus.subject(`usage.${subject}`), JSON.stringify({ id }));
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it("takes over the durable consumer an older release created, with its own delivery settings", async () => {
  await bus.jsm.consumers.add(bus.stream("USAGE"), {
    durable_name: "older",
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: bus.subject("usage.older"),
    max_deliver: 10,
    ack_wait: 30e9,
  });
  await publishIds("older", ["a", "b"]);
  const seen: string[] = [];
  const stop = new AbortController();
  const running = consumeBatches(
    bus,
    options("older", { signal: stop.signal, handle: async (ids) => void seen.push(...ids) }),
  );
  await until(() => seen.length === 2, "both messages");
  stop.abort();
  await running;
  const info = await bus.jsm.consumers.info(bus.stream("USAGE"), "older");
  expect([info.config.ack_wait, info.config.max_deliver]).toEqual([1000 * 1e6, -1]);
  expect(seen).toEqual(["a", "b"]);
});

it("isolates an item the store refuses: the rest of its batch is acknowledged, it is retried", async () => {
  const ids = Array.from({ length: 20 }, (_, i) => (i === 7 ? "poison" : `ok-${i}`));
  await publishIds("poison", ids);
  const stored = new Set<string>();
  let poisonTries = 0;
  const stop = new AbortController();
  const running = consumeBatches(
    bus,
    options("poison", {
      signal: stop.signal,
      handle: async (batch) => {
        if (batch.includes("poison")) {
          poisonTries++;
          throw new Error("refused");
        }
        for (const id of batch) stored.add(id);
      },
    }),
  );
  // Redelivery after a nak with backoff (500 ms, then 1 s): the poison comes back, alone.
  await until(() => stored.size === 19 && poisonTries >= 3, "the others stored and the poison retried");
  stop.abort();
  await running;
  const info = await bus.jsm.consumers.info(bus.stream("USAGE"), "poison");
  expect(info.num_pending).toBe(0);
  expect(info.num_ack_pending).toBe(1);
});

it("terminates a message that can never parse instead of redelivering it", async () => {
  await publishIds("invalid", ["fine", "broken", "also-fine"]);
  const rejected: unknown[] = [];
  const handled: string[] = [];
  const stop = new AbortController();
  const running = consumeBatches(
    bus,
    options("invalid", {
      signal: stop.signal,
      parse: (d) => {
        const id = String((d as { id: string }).id);
        if (id === "broken") throw new Error("unparseable");
        return id;
      },
      handle: async (batch) => void handled.push(...batch),
      onRejected: (err) => void rejected.push(err),
    }),
  );
  await until(() => handled.length === 2, "the valid messages");
  // Past the ack wait: a terminated message is not redelivered.
  await new Promise((r) => setTimeout(r, 1300));
  stop.abort();
  await running;
  expect([handled, rejected.length]).toEqual([["fine", "also-fine"], 1]);
  const info = await bus.jsm.consumers.info(bus.stream("USAGE"), "invalid");
  expect([info.num_pending, info.num_ack_pending]).toEqual([0, 0]);
});
