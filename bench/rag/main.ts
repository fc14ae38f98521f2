// pnpm bench:rag [--data DIR] [--pglite] [--scale-chunks N] [--chunk-unit characters|tokens]: the Cranfield quality benchmark and
// search latency, through the gateway's public RAG API on a platform started for the run.
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { REPO_ROOT, startPlatform } from "@sloughgpt/testing";
import { percentile } from "../serving/stats.js";
import { type CranQuery, loadCranfield, type Qrels } from "./cranfield.js";
import { documentRanking, meanScores, type Scores, scoreQuery } from "./metrics.js";
import { syntheticDocuments } from "./synthetic.js";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    pglite: { type: "boolean", default: false },
    /** Echo the services' logs to stderr. */
    logs: { type: "boolean", default: false },
    "scale-chunks": { type: "string", default: "0" },
    /** What the collection's chunk sizes count (its default sizes either way). */
    "chunk-unit": { type: "string", default: "characters" },
  },
});
const chunkUnit = values["chunk-unit"];
if (chunkUnit !== "characters" && chunkUnit !== "tokens") {
  console.error(`--chunk-unit must be characters or tokens, got '${chunkUnit}'`);
  process.exit(2);
}

const MODES = ["lexical", "dense", "hybrid", "default"] as const;
type Mode = (typeof MODES)[number];
/** Chunks asked for per query: enough distinct documents for Recall@100 after merging chunks. */
const DEPTH = 300;

function dataDir(): string {
  const candidates = [
    values.data,
    path.join(REPO_ROOT, "../shared/datasets/cranfield"),
    "/work/shared/datasets/cranfield",
  ];
  const dir = candidates.find((d) => d && existsSync(path.join(d, "cran.all.1400")));
  if (!dir) throw new Error(`Cranfield not found in ${candidates.filter(Boolean).join(", ")}`);
  return dir;
}

class Api {
  constructor(
    private readonly base: string,
    private readonly key: string,
  ) {}

  post<T>(route: string, body: unknown): Promise<T> {
    return this.call<T>(route, body);
  }

  get<T>(route: string): Promise<T> {
    return this.call<T>(route);
  }

  private async call<T>(route: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${route}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${this.key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
}

interface Hit {
  document_id: string;
}

async function ingest(api: Api, collection: string, docs: { id: string; text: string; metadata: object }[]) {
  const started = performance.now();
  let chunks = 0;
  for (let i = 0; i < docs.length; i += 100) {
    const res = await api.post<{ chunks_written: number }>(`/v1/rag/collections/${collection}/documents`, {
      documents: docs.slice(i, i + 100),
    });
    chunks += res.chunks_written;
  }
  return { seconds: (performance.now() - started) / 1000, chunks };
}

async function runQueries(api: Api, collection: string, queries: CranQuery[], mode: Mode, qrels: Qrels[]) {
  const perQrels: Scores[][] = qrels.map(() => []);
  const latencies: number[] = [];
  for (const q of queries) {
    const started = performance.now();
    const { results } = await api.post<{ results: Hit[] }>(`/v1/rag/collections/${collection}/search`, {
      query: q.text,
      top_k: DEPTH,
      ...(mode === "default" ? {} : { mode }),
    });
    latencies.push(performance.now() - started);
    const ranking = documentRanking(
      results.map((r) => r.document_id),
      DEPTH,
    );
    for (const [i, judged] of qrels.entries())
      perQrels[i]?.push(scoreQuery(ranking, judged.get(q.number) ?? new Map()));
  }
  return { scores: perQrels.map(meanScores), latencies };
}

async function latencyAtScale(api: Api, chunks: number, queries: CranQuery[], source: string[]) {
  await api.post("/v1/rag/collections", { name: "scale", chunk_size: 1000, embedding_model: "" });
  const docs = syntheticDocuments(chunks, source);
  const { seconds, chunks: written } = await ingest(api, "scale", docs);
  const latencies: number[] = [];
  for (const q of queries) {
    const started = performance.now();
    await api.post(`/v1/rag/collections/scale/search`, { query: q.text, top_k: 10, mode: "lexical" });
    latencies.push(performance.now() - started);
  }
  return { docs: docs.length, chunks: written, seconds, latencies };
}

/** Waits (bounded) for the collection's calibrated dense weight. */
async function calibratedWeight(api: Api, collection: string): Promise<number> {
  for (let i = 0; i < 900; i++) {
    const c = await api.get<{ dense_weight: number | null }>(`/v1/rag/collections/${collection}`);
    if (c.dense_weight !== null) return c.dense_weight;
    await sleep(1000);
  }
  throw new Error("the collection was never calibrated");
}

const fmt = (x: number, d = 4) => x.toFixed(d);
const ms = (xs: number[], p: number) => `${percentile(xs, p).toFixed(1)}`;

const dir = dataDir();
const [cran, judgedOnly] = [await loadCranfield(dir, 4), await loadCranfield(dir, 0)];
const platform = await startPlatform({
  postgresAdminUrl: values.pglite ? null : undefined,
  echoLogs: values.logs,
});
try {
  const api = new Api(platform.gatewayUrl, platform.adminKey);
  await api.post("/v1/rag/collections", { name: "cranfield", chunk_unit: chunkUnit });
  const docs = cran.docs.map((d) => ({
    id: d.id,
    text: `${d.title}\n\n${d.text}`,
    metadata: { authors: d.authors, bibliography: d.bibliography },
  }));
  const ing = await ingest(api, "cranfield", docs);
  console.log(
    `machine: ${os.cpus().length} vCPU (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; store: ${values.pglite ? "PGlite" : "Postgres"}; chunks counted in ${chunkUnit}; embedding model: ${platform.modelId} (random weights)`,
  );
  console.log(
    `ingest (with embeddings): ${docs.length} docs, ${ing.chunks} chunks in ${ing.seconds.toFixed(1)} s = ${(docs.length / ing.seconds).toFixed(0)} docs/s`,
  );
  // The default mode's first search starts the collection's calibration in the background.
  await api.post("/v1/rag/collections/cranfield/search", { query: "calibration warm-up", top_k: 1 });
  const weight = await calibratedWeight(api, "cranfield");
  console.log(`default mode: dense weight ${weight} (calibrated by known-item search; 0 = lexical)`);
  console.log("mode      nDCG@10  MAP     R@100   | judged codes only: nDCG@10  MAP    | p50 ms  p99 ms");
  let defaultNdcg = 0;
  for (const mode of MODES) {
    const { scores, latencies } = await runQueries(api, "cranfield", cran.queries, mode, [
      cran.qrels,
      judgedOnly.qrels,
    ]);
    const [all, judged] = scores as [Scores, Scores];
    if (mode === "default") defaultNdcg = all.ndcg10;
    console.log(
      `${mode.padEnd(9)} ${fmt(all.ndcg10)}   ${fmt(all.map)}  ${fmt(all.recall100)}  |                    ${fmt(judged.ndcg10)}   ${fmt(judged.map)} | ${ms(latencies, 50).padStart(6)}  ${ms(latencies, 99).padStart(6)}`,
    );
  }
  const scale = Number(values["scale-chunks"]);
  if (scale > 0) {
    const s = await latencyAtScale(
      api,
      scale,
      cran.queries,
      cran.docs.map((d) => d.text),
    );
    console.log(
      `scale (lexical only, top_k 10): ${s.docs} docs, ${s.chunks} chunks ingested in ${s.seconds.toFixed(0)} s = ${(s.docs / s.seconds).toFixed(0)} docs/s; search p50 ${ms(s.latencies, 50)} ms, p99 ${ms(s.latencies, 99)} ms over ${s.latencies.length} queries`,
    );
  }
  console.log(`rag_ndcg10_default=${fmt(defaultNdcg)}`);
} catch (err) {
  console.error(platform.logs("rag").slice(-20).join("\n"));
  throw err;
} finally {
  await platform.stop();
}
