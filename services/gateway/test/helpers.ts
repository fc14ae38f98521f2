import type { Bus } from "@sloughgpt/bus";
import type { Db } from "@sloughgpt/db";
import { createLogger } from "@sloughgpt/runtime";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.js";
import { AuditLog } from "../src/audit/log.js";
import { closeUpstreams, createUpstreams, type Upstreams } from "../src/clients.js";
import type { Config } from "../src/config.js";
import { createAuthenticator } from "../src/http/auth.js";
import { KeyDirectory } from "../src/identity/directory.js";
import { connectIdentityEvents } from "../src/identity/events.js";
import { Identity } from "../src/identity/identity.js";
import type { OidcVerifier } from "../src/identity/oidc.js";
import { IdentityStore } from "../src/identity/store.js";

export const ADMIN_KEY = "sk-sg-test-admin-key-0123456789";

/** Nothing listens on port 9 of loopback: every upstream call fails at once with UNAVAILABLE (503). */
export function deadUpstreams(): Upstreams {
  const dead = "127.0.0.1:9";
  return createUpstreams({
    SERVING_ADDR: dead,
    RAG_ADDR: dead,
    REASONING_ADDR: dead,
    TRAINING_ADDR: dead,
    MONITORING_ADDR: dead,
  } as Config);
}

export interface TestGateway {
  url: string;
  app: FastifyInstance;
  identity: Identity;
  directory: KeyDirectory;
  audit: AuditLog;
  close(): Promise<void>;
}

/** The gateway app as main.ts wires it (real auth, key store, audit log, NATS events when a bus is given), on loopback. */
export async function startGateway(opts: {
  db: Db;
  bus?: Bus;
  ttlMs?: number;
  oidc?: OidcVerifier;
  logPrompts?: boolean;
  extendApp?: (app: FastifyInstance) => void;
}): Promise<TestGateway> {
  const logger = createLogger({ service: "gateway-test", level: "silent" });
  const store = new IdentityStore(opts.db);
  const directory = new KeyDirectory(store, { ttlMs: opts.ttlMs ?? 1000 });
  const events = opts.bus
    ? await connectIdentityEvents(
        opts.bus,
        { onKeyRevoked: (id) => directory.evictKey(id), onTeamChanged: (t) => directory.evictTeam(t) },
        logger,
      )
    : undefined;
  const audit = new AuditLog(opts.db, logger, { flushMs: 20 });
  const upstreams = deadUpstreams();
  const identity = new Identity(store, directory, events);
  const app = buildApp({
    upstreams,
    authenticate: createAuthenticator({
      adminKey: ADMIN_KEY,
      keys: directory,
      ...(opts.oidc ? { oidc: opts.oidc } : {}),
    }),
    identity,
    audit,
    logPrompts: opts.logPrompts ?? false,
    logger,
    bodyLimit: 1024 * 1024,
    generationTimeoutMs: 5000,
    upstreamTimeoutMs: 2000,
    shutdownSignal: new AbortController().signal,
  });
  opts.extendApp?.(app);
  const url = await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    url,
    app,
    identity,
    directory,
    audit,
    close: async () => {
      await app.close();
      events?.close();
      await audit.close();
      closeUpstreams(upstreams);
    },
  };
}

export interface Reply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T & { error?: { code: string | null; message: string; type: string; param: string | null } };
}

/** One HTTP request: JSON in (POST when `json` is given), JSON out. */
export async function call<T = Record<string, unknown>>(
  base: string,
  path: string,
  opts: { key?: string | undefined; method?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== undefined) headers.authorization = `Bearer ${opts.key}`;
  if (opts.json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method: opts.method ?? (opts.json === undefined ? "GET" : "POST"),
    headers,
    ...(opts.json === undefined ? {} : { body: JSON.stringify(opts.json) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : {}) as Reply<T>["body"],
  };
}

/** Creates a key through the admin API and returns the response (with the one-time `key`). */
export async function createKey(
  base: string,
  body: Record<string, unknown>,
): Promise<{ id: string; key: string } & Record<string, unknown>> {
  const res = await call<{ id: string; key: string }>(base, "/v1/admin/keys", { key: ADMIN_KEY, json: body });
  if (res.status !== 201)
    throw new Error(`creating a key answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}
