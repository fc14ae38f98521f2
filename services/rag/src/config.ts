import { baseEnv, databaseEnv, natsEnv, port } from "@sloughgpt/runtime";
import { z } from "zod";

export const configSchema = z
  .object({
    ...baseEnv,
    ...databaseEnv,
    ...natsEnv,
    GRPC_PORT: port(50052),
    /** Characters per chunk when a collection doesn't set its own. */
    DEFAULT_CHUNK_SIZE: z.coerce.number().int().min(64).max(20_000).default(1000),
    DEFAULT_CHUNK_OVERLAP: z.coerce.number().int().min(0).default(150),
    /** Serving, for embeddings. */
    SERVING_ADDR: z
      .string()
      .regex(/^[^:\s]+:\d+$/, "expected host:port")
      .default("127.0.0.1:50051"),
    /** Embedding model of collections that name none; empty: such collections are lexical only. */
    DEFAULT_EMBEDDING_MODEL: z.string().default(""),
    /** Model of answers whose request names none. */
    DEFAULT_ANSWER_MODEL: z.string().default("tiny-llama"),
    /** Upper bound on one Embed or Generate call. */
    EMBED_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
    /** Weights of weighted reciprocal rank fusion in mode `hybrid`. */
    HYBRID_LEXICAL_WEIGHT: z.coerce.number().min(0).default(1),
    HYBRID_DENSE_WEIGHT: z.coerce.number().min(0).default(1),
    /** Mode of searches that name none: `auto` is hybrid weighted by per-collection calibration. */
    /** Qdrant's REST URL; unset, collections cannot use store `qdrant`. */
    QDRANT_URL: z.url().optional(),
    QDRANT_API_KEY: z.string().optional(),
    /** The Qdrant collection shared by all rag collections (each a tenant in it). */
    QDRANT_COLLECTION: z.string().min(1).default("sloughgpt_rag"),
    /** Deliveries of a queued document before it is dead-lettered. */
    INGEST_MAX_DELIVER: z.coerce.number().int().min(1).max(100).default(5),
    DEFAULT_SEARCH_MODE: z.enum(["auto", "lexical", "dense", "hybrid"]).default("auto"),
  })
  .refine((c) => c.DEFAULT_CHUNK_OVERLAP < c.DEFAULT_CHUNK_SIZE, {
    path: ["DEFAULT_CHUNK_OVERLAP"],
    message: "must be smaller than DEFAULT_CHUNK_SIZE",
  });

export type Config = z.infer<typeof configSchema>;
