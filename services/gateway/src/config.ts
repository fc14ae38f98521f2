import { baseEnv, boolish, databaseEnv, natsEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

const addr = z.string().regex(/^[^:\s]+:\d+$/, "expected host:port");

export const configSchema = z
  .object({
    ...baseEnv,
    /** Revocations are broadcast on `<NATS_NAMESPACE>.gateway.keys.revoked`. */
    ...natsEnv,
    /** Teams, API keys and the audit log (schema `gateway`); unset: PGlite under DATA_DIR. */
    ...databaseEnv,
    /** Public API port. */
    PORT: port(8080),
    SERVING_ADDR: addr.default("127.0.0.1:50051"),
    RAG_ADDR: addr.default("127.0.0.1:50052"),
    REASONING_ADDR: addr.default("127.0.0.1:50053"),
    TRAINING_ADDR: addr.default("127.0.0.1:50054"),
    MONITORING_ADDR: addr.default("127.0.0.1:50055"),
    /** Bootstrap admin API key (role admin, team "default"); requests present it as `Authorization: Bearer <key>`. */
    SLOUGHGPT_ADMIN_KEY: z.string().min(16, "must be at least 16 characters"),
    /**
     * How long a key lookup (and a team's limits) is cached per replica. Revocations evict at once
     * over NATS; this bounds how long a replica that missed the broadcast keeps a revoked key.
     */
    KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
    /** JWKS URL of an OIDC issuer: bearer JWTs are then accepted next to API keys. */
    OIDC_JWKS_URL: z.string().url().optional(),
    /** Required `iss` of tokens (required with OIDC_JWKS_URL). */
    OIDC_ISSUER: z.string().min(1).optional(),
    /** Required `aud` of tokens (required with OIDC_JWKS_URL). */
    OIDC_AUDIENCE: z.string().min(1).optional(),
    /** Claim naming the role (a string or an array; dots for nested claims, e.g. `realm_access.roles`). */
    OIDC_ROLE_CLAIM: z.string().min(1).default("role"),
    /** Claim naming the team. */
    OIDC_TEAM_CLAIM: z.string().min(1).default("team"),
    /**
     * While NATS (the shared rate-limit counters) is unreachable: true decides on each replica's own
     * counters (every limit still holds per replica); false refuses limited requests with 503.
     */
    RATE_LIMIT_FAIL_OPEN: boolish(true),
    /**
     * Most requests a replica reserves ahead on a busy rate-limit counter and admits without a round
     * trip to NATS; at most 1/64 of what a limit has left, returned after 500 ms unused (0: none).
     */
    RATE_LIMIT_LEASE_REQUESTS: z.coerce.number().int().min(0).max(10_000).default(64),
    /** Bound on reading a key's or team's spend from monitoring; past it the budget check is skipped (logged). */
    SPEND_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(500),
    /** How long a spend reading is reused for a caller's next requests on this replica (0: read every time). */
    SPEND_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(250),
    /** Log request bodies (prompts), with emails, phone numbers and keys masked. */
    LOG_PROMPTS: boolish(false),
    /**
     * Which X-Forwarded-For hops to believe for the client address (audit log): `false` (none, the
     * default), a number of proxies in front of the gateway (`1` behind one ingress), or a
     * comma-separated list of proxy addresses/CIDRs. `true` believes every hop, so any client can
     * name its own address: only for a proxy that overwrites the header.
     */
    TRUST_PROXY: z
      .string()
      .default("false")
      .transform((v, ctx): boolean | number | string[] => {
        const t = v.trim().toLowerCase();
        if (t === "false" || t === "" || t === "0") return false;
        if (t === "true") return true;
        if (/^\d+$/.test(t)) return Number(t);
        const list = t
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean);
        if (list.every((x) => /^[0-9a-f:.]+(\/\d{1,3})?$/.test(x))) return list;
        ctx.addIssue({
          code: "custom",
          message: "expected false, true, a hop count or a list of addresses/CIDRs",
        });
        return z.NEVER;
      }),
    /** Largest request body accepted. */
    BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024),
    /** Upper bound on a generation, streamed or not. */
    GENERATION_TIMEOUT_MS: z.coerce.number().int().min(1000).default(300_000),
    /** Upper bound on other upstream calls. */
    UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  })
  .superRefine((c, ctx) => {
    if (!c.OIDC_JWKS_URL) return;
    for (const name of ["OIDC_ISSUER", "OIDC_AUDIENCE"] as const) {
      if (!c[name]) ctx.addIssue({ code: "custom", path: [name], message: "required with OIDC_JWKS_URL" });
    }
  });

export type Config = z.infer<typeof configSchema>;
