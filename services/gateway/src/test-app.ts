import { createLogger } from "@sloughgpt/runtime";
import { type AppDeps, buildApp } from "./app.js";
import type { Upstreams } from "./clients.js";
import { createAuthenticator } from "./http/auth.js";

/** The bootstrap admin key of testApp. */
export const TEST_KEY = "sk-sg-test-key-0123456789";

/**
 * The gateway app for tests that need no upstream: no upstream clients (a call to one fails),
 * TEST_KEY as the bootstrap key, a silent logger; `over` replaces any of it.
 */
export function testApp(over: Partial<AppDeps> = {}) {
  return buildApp({
    upstreams: {} as Upstreams,
    authenticate: createAuthenticator(TEST_KEY),
    logger: createLogger({ service: "test", level: "silent" }),
    bodyLimit: 4096,
    generationTimeoutMs: 1000,
    upstreamTimeoutMs: 1000,
    shutdownSignal: new AbortController().signal,
    ...over,
  });
}
