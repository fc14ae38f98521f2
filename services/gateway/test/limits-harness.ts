import net from "node:net";
import { Kvm } from "@nats-io/kv";
import { type Bus, connectBus } from "@sloughgpt/bus";
import { createLogger } from "@sloughgpt/runtime";
import { DEFAULT_NATS_URL, deleteNamespace, testNamespace } from "@sloughgpt/testing";
import { RateLimiter, type RateLimiterOptions, rateLimitBucketName } from "../src/limits/index.js";
import { decodeUsage } from "../src/limits/kv-store.js";
import { counterKey } from "../src/limits/reserve.js";
import type { Scope } from "../src/limits/types.js";
import { windowAt } from "../src/limits/window.js";

export const quiet = createLogger({ service: "test", level: "silent" });

/** A fixed moment 30 s into a window, far from the real clock, so no test meets a real window edge. */
export const T0 = Date.UTC(2030, 0, 1, 12, 0, 30);

/** A clock the test moves by hand. */
export function manualClock(start = T0) {
  const clock = { now: start, read: () => clock.now };
  return clock;
}

/**
 * A TCP relay in front of the NATS server, so a test can take the server away from a client (and
 * give it back) while the real server keeps running for everyone else.
 */
export class NatsRelay {
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;

  private constructor(private port: number) {}

  static async start(): Promise<NatsRelay> {
    const relay = new NatsRelay(0);
    await relay.restore();
    return relay;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Drops every connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts connections again, on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    const upstream = new URL(DEFAULT_NATS_URL);
    const server = net.createServer((client) => {
      const server = net.connect(Number(upstream.port), upstream.hostname);
      for (const s of [client, server]) {
        this.sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => {
          this.sockets.delete(s);
          client.destroy();
          server.destroy();
        });
      }
      client.pipe(server).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
}

/** Limiter replicas of one namespace, each on its own connection; everything is removed after the test. */
export function limitsHarness() {
  const namespace = testNamespace();
  const buses: Bus[] = [];
  const limiters: RateLimiter[] = [];
  const relays: NatsRelay[] = [];

  const connect = async (url = DEFAULT_NATS_URL) => {
    const bus = await connectBus({ url, namespace, name: "limits-test", logger: quiet });
    buses.push(bus);
    return bus;
  };

  const replica = async (opts: Partial<RateLimiterOptions> = {}) => {
    const limiter = await RateLimiter.open({ bus: opts.bus ?? (await connect()), logger: quiet, ...opts });
    limiters.push(limiter);
    return limiter;
  };

  const relay = async () => {
    const r = await NatsRelay.start();
    relays.push(r);
    return r;
  };

  /** What the shared bucket holds for a scope in the window around `at`. */
  let admin: Promise<Bus> | undefined;
  /** A connection straight to NATS for looking at what the replicas stored. */
  const adminBus = (): Promise<Bus> => {
    admin ??= connect();
    return admin;
  };
  const stored = async (scope: Pick<Scope, "kind" | "id">, at = T0) => {
    const bus = await adminBus();
    const kv = await new Kvm(bus.js).open(rateLimitBucketName(bus));
    const entry = await kv.get(counterKey(scope, windowAt(at).id));
    return entry ? decodeUsage(entry.value) : undefined;
  };

  const cleanup = async () => {
    for (const r of relays) await r.restore();
    for (const l of limiters) await l.close();
    for (const b of buses) await b.close();
    for (const r of relays) await r.cut();
    await deleteNamespace(DEFAULT_NATS_URL, namespace);
  };

  return { namespace, connect, replica, relay, stored, cleanup, adminBus };
}

/** Polls `cond` until it holds; fails after `timeoutMs`. */
export async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
