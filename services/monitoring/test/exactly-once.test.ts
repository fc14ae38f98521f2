import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { jest } from "@jest/globals";
import { type Bus, connectBus, ensureStreams, publish, subjects, type UsageEvent } from "@sloughgpt/bus";
import { type Db, migrate, openDatabase } from "@sloughgpt/db";
import { createLogger, createMetrics, type Metrics } from "@sloughgpt/runtime";
import {
  createTestDatabase,
  DEFAULT_NATS_URL,
  deleteNamespace,
  REPO_ROOT,
  type TestDatabase,
  testNamespace,
} from "@sloughgpt/testing";
import { consumeBatches } from "../src/ingest/consumer.js";
import { usageIngest } from "../src/ingest/usage-ingest.js";
import { migrations } from "../src/usage/store.js";
import { DB_KINDS, type Expected, expectedReport, makeEvents, PRICES } from "./fixtures.js";

// Acceptance: usage events through real NATS JetStream into real Postgres (and PGlite), with
// duplicates, redeliveries and a consumer killed between its commit and its acks, must leave the
// ledger equal to the distinct events: records, tokens, cost, daily rollups and spend.
jest.setTimeout(90_000);

const quiet = createLogger({ service: "test", level: "silent" });
const DURABLE = "monitoring-usage";

interface Scenario {
  /** Every message published, in order (with repeats). */
  published: { event: UsageEvent; msgId: string }[];
  /** The distinct valid events the ledger must end up with. */
  distinct: UsageEvent[];
}

/**
 * `n` distinct events, plus: 10% published again under a new message id (JetStream stores both,
 * so the ledger sees the id twice), 5% retried under the same message id (JetStream drops the
 * copy), and one event the ledger must refuse (a malformed finishedAt).
 */
function scenario(n: number, seed: number): Scenario {
  const distinct = makeEvents(n, { seed, start: "2024-05-28T00:00:00Z", days: 6 });
  const published = distinct.map((event) => ({ event, msgId: event.id }));
  distinct.forEach((event, i) => {
    if (i % 10 === 3) published.push({ event, msgId: `${event.id}-again` });
    if (i % 20 === 7) published.push({ event, msgId: event.id });
  });
  const bad = { ...(distinct[0] as UsageEvent), id: `bad-${seed}`, finishedAt: "not a time" };
  published.splice(n / 2, 0, { event: bad, msgId: bad.id });
  return { published, distinct };
}

async function publishAll(bus: Bus, s: Scenario): Promise<void> {
  for (let i = 0; i < s.published.length; i += 200) {
    await Promise.all(
      s.published
        .slice(i, i + 200)
        .map((p) => publish(bus, subjects.usageGeneration, p.event, { msgId: p.msgId })),
    );
  }
}

/** The ledger's totals and its rollups, as comparable values. */
async function snapshot(db: Db) {
  const raw = await db.query<Record<string, string>>(
    `SELECT count(*)::text AS requests, coalesce(sum(prompt_tokens), 0)::text AS prompt,
       coalesce(sum(completion_tokens), 0)::text AS completion,
       coalesce(sum(cost_usd), 0)::numeric(30,12)::text AS cost FROM monitoring.usage_events`,
  );
  const daily = await db.query<Record<string, string>>(
    `SELECT day::text AS day, team, key_id, model, requests::text, prompt_tokens::text, completion_tokens::text,
       cached_tokens::text, cache_hits::text, error_requests::text, cancelled_requests::text,
       unpriced_requests::text, cost_usd::text FROM monitoring.usage_daily`,
  );
  const spend = await db.query<Record<string, string>>(
    `SELECT subject, requests::text, cost_usd::text FROM monitoring.usage_spend
     WHERE scope = 'key' AND period = 'month' AND period_start = '2024-06-01'`,
  );
  return {
    raw: raw.rows[0],
    daily: new Map(
      daily.rows.map((r) => [
        [r.day, r.team, r.key_id, r.model].join("|"),
        {
          requests: Number(r.requests),
          promptTokens: Number(r.prompt_tokens),
          completionTokens: Number(r.completion_tokens),
          cachedTokens: Number(r.cached_tokens),
          cacheHits: Number(r.cache_hits),
          errorRequests: Number(r.error_requests),
          cancelledRequests: Number(r.cancelled_requests),
          unpricedRequests: Number(r.unpriced_requests),
          costUsd: String(r.cost_usd),
        } satisfies Expected,
      ]),
    ),
    juneSpendByKey: new Map(
      spend.rows.map((r) => [r.subject, { requests: Number(r.requests), costUsd: r.cost_usd }]),
    ),
  };
}

function expectedSnapshot(events: UsageEvent[]) {
  const all = { fromMs: 0, toMs: Date.parse("2100-01-01T00:00:00Z") };
  const total = expectedReport(events, { ...all, groupBy: [] }).get("") as Expected;
  const june = { fromMs: Date.parse("2024-06-01T00:00:00Z"), toMs: Date.parse("2024-07-01T00:00:00Z") };
  return {
    raw: {
      requests: String(total.requests),
      prompt: String(total.promptTokens),
      completion: String(total.completionTokens),
      cost: total.costUsd,
    },
    daily: expectedReport(events, { ...all, groupBy: ["day", "team", "key", "model"] }),
    juneSpendByKey: new Map(
      [...expectedReport(events, { ...june, groupBy: ["key"] })].map(([k, v]) => [
        k,
        { requests: v.requests, costUsd: v.costUsd },
      ]),
    ),
  };
}

async function until(cond: () => Promise<boolean>, what: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function consumerIdle(bus: Bus): Promise<boolean> {
  const info = await bus.jsm.consumers.info(bus.stream("USAGE"), DURABLE);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

const countRecords = async (db: Db) =>
  Number(
    (await db.query<{ n: string }>("SELECT count(*)::text AS n FROM monitoring.usage_events")).rows[0]?.n,
  );

async function metricValue(metrics: Metrics, name: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
}

describe.each(DB_KINDS)("exactly-once ingest on %s, consumer cut between commit and ack", (kind) => {
  const namespace = testNamespace();
  let server: TestDatabase | undefined;
  let db: Db;
  let admin: Bus;

  beforeAll(async () => {
    server = kind === "postgres" ? await createTestDatabase() : undefined;
    db = await openDatabase({ url: server?.url, maxConnections: 4 });
    await migrate(db, "monitoring", migrations);
    admin = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "test-admin", logger: quiet });
    await ensureStreams(admin, ["USAGE"]);
  });
  afterAll(async () => {
    await admin?.close();
    await deleteNamespace(DEFAULT_NATS_URL, namespace);
    await db?.close();
    await server?.drop();
  });

  it("ends with the distinct events exactly once after a restart", async () => {
    const s = scenario(1200, kind === "postgres" ? 11 : 12);
    await publishAll(admin, s);
    const metrics = createMetrics("test");
    const ingest = usageIngest({ db, prices: PRICES, metrics, logger: quiet });
    const run = (bus: Bus, handle: typeof ingest.handle, signal: AbortSignal) =>
      consumeBatches(bus, {
        stream: "USAGE",
        subject: "usage.generation",
        durable: DURABLE,
        batchSize: 100,
        lingerMs: 10,
        ackWaitMs: 1000,
        ...ingest,
        handle,
        logger: quiet,
        signal,
      });

    // First life: the third batch commits, then the connection drops before any of its acks.
    const first = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "first", logger: quiet });
    let batches = 0;
    let cutAfter = 0;
    let cutSize = 0;
    const crashing = run(
      first,
      async (records) => {
        await ingest.handle(records);
        if (++batches === 3) {
          cutAfter = await countRecords(db);
          cutSize = records.length;
          await first.nc.close();
        }
      },
      new AbortController().signal,
    ).catch(() => undefined);
    await crashing;
    expect(batches).toBe(3);
    expect(cutAfter).toBeGreaterThan(0);
    expect(cutAfter).toBeLessThan(s.distinct.length);
    const stranded = await admin.jsm.consumers.info(admin.stream("USAGE"), DURABLE);
    expect(stranded.num_ack_pending).toBeGreaterThan(0);

    // Second life: redelivered messages of the cut batch must change nothing.
    const second = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "second", logger: quiet });
    const stop = new AbortController();
    const consuming = run(second, ingest.handle, stop.signal);
    try {
      await until(
        async () => (await countRecords(db)) === s.distinct.length && (await consumerIdle(admin)),
        () => "the consumer to store every record and drain",
      );
    } finally {
      stop.abort();
      await consuming;
      await second.close();
    }

    expect(await snapshot(db)).toEqual(expectedSnapshot(s.distinct));
    // The cut batch came back, on top of the 10% published twice.
    expect(await metricValue(metrics, "sloughgpt_usage_duplicates_total")).toBeGreaterThanOrEqual(
      cutSize + 120,
    );
    expect(await metricValue(metrics, "sloughgpt_usage_rejected_total")).toBe(1);
    expect(await metricValue(metrics, "sloughgpt_usage_unpriced_total")).toBe(
      s.distinct.filter((e) => !PRICES.has(e.model)).length,
    );
  });
});

describe("exactly-once ingest with the monitoring process killed mid-stream (Postgres)", () => {
  const namespace = testNamespace();
  let server: TestDatabase;
  let db: Db;
  let admin: Bus;
  const children: ChildProcess[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    server = await createTestDatabase();
    db = await openDatabase({ url: server.url, maxConnections: 2 });
    admin = await connectBus({ url: DEFAULT_NATS_URL, namespace, name: "test-admin", logger: quiet });
    await ensureStreams(admin, ["USAGE"]);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await admin?.close();
    await deleteNamespace(DEFAULT_NATS_URL, namespace);
    await db?.close();
    await server?.drop();
  });

  /** `services/monitoring` as the platform runs it, on free ports, with its output kept for failures. */
  function startMonitoring(): ChildProcess {
    const { NODE_OPTIONS: _, ...env } = process.env;
    const child = spawn(process.execPath, ["--import", "tsx", "services/monitoring/src/main.ts"], {
      cwd: REPO_ROOT,
      env: {
        ...env,
        DATABASE_URL: server.url,
        NATS_URL: DEFAULT_NATS_URL,
        NATS_NAMESPACE: namespace,
        GRPC_PORT: "0",
        HTTP_PORT: "0",
        BIND_HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        MODEL_PRICES: JSON.stringify({
          small: { input: 0.15, output: 0.6, cachedInput: 0.075 },
          large: { input: "2.5", output: 10 },
        }),
        USAGE_BATCH_SIZE: "50",
        USAGE_ACK_WAIT_MS: "1000",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const s of [child.stdout, child.stderr]) s?.on("data", (d: Buffer) => logs.push(d.toString()));
    children.push(child);
    return child;
  }

  it("loses nothing and counts nothing twice across a SIGKILL and a restart", async () => {
    const s = scenario(4000, 21);
    await publishAll(admin, s);

    const first = startMonitoring();
    await until(
      async () => {
        const n = await countRecords(db).catch(() => 0); // the schema appears with the first migration
        return n >= 1000;
      },
      () => `the first process to store 1000 records\n${logs.join("")}`,
    );
    first.kill("SIGKILL");
    await once(first, "exit");
    const atKill = await countRecords(db);
    expect(atKill).toBeLessThan(s.distinct.length);

    const second = startMonitoring();
    try {
      await until(
        async () => (await countRecords(db)) === s.distinct.length && (await consumerIdle(admin)),
        () => `the restarted process to drain the stream\n${logs.join("")}`,
      );
    } finally {
      second.kill("SIGTERM");
      await once(second, "exit");
    }
    expect(second.exitCode).toBe(0);
    expect(await snapshot(db)).toEqual(expectedSnapshot(s.distinct));
  });
});
