import { setTimeout as sleep } from "node:timers/promises";
import {
  type AppError,
  CancelledError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  type Logger,
  NotFoundError,
  ResourceExhaustedError,
  UnavailableError,
} from "@sloughgpt/runtime";
import type { Deployment, UpstreamSpec } from "../registry/spec.js";
import { Admission } from "./admission.js";
import {
  DEFAULT_MAX_TOKENS,
  type EmbedResult,
  type FinishReason,
  type GenerateOptions,
  type GenerateParams,
  type GenerateResult,
  type ModelBackend,
  type ModelInfo,
  type ResponseFormat,
  type TokenizeResult,
} from "./engine.js";
import { httpPost } from "./http-post.js";
import { sseEvents } from "./sse.js";
import { l2Normalize } from "./vectors.js";

// ---------------------------------------------------------------------------------------------
// Request mapping (pure)

export interface UpstreamRequest {
  path: "/chat/completions" | "/completions";
  body: Record<string, unknown>;
}

function responseFormatBody(format: ResponseFormat | undefined): object | undefined {
  if (!format || format.type === "text") return undefined;
  if (format.type === "json_object") return { type: "json_object" };
  return { type: "json_schema", json_schema: { name: "response", schema: format.schema } };
}

/**
 * The OpenAI request for `params`, always streamed with a final usage chunk. Sampling defaults
 * are this platform's, not the upstream's: greedy decoding and DEFAULT_MAX_TOKENS.
 */
/**
 * The OpenAI request for a generation. `incremental: false` (the caller wants only the whole text)
 * asks for one JSON answer instead of a stream: fewer writes and parses on both sides.
 */
export function generateRequest(
  params: GenerateParams,
  upstreamModel: string,
  opts: { incremental?: boolean | undefined } = {},
): UpstreamRequest {
  const { input } = params;
  const optional: Record<string, unknown> = {
    top_p: params.topP,
    // Not OpenAI's, but vLLM, llama-server and TGI read it and OpenAI-compatible servers ignore it.
    top_k: params.topK,
    seed: params.seed,
    presence_penalty: params.presencePenalty,
    frequency_penalty: params.frequencyPenalty,
    stop: params.stop.length > 0 ? params.stop : undefined,
    response_format: responseFormatBody(params.responseFormat),
  };
  const body: Record<string, unknown> = {
    model: upstreamModel,
    ...(input.kind === "chat"
      ? { messages: input.messages.map((m) => ({ role: m.role, content: m.content })) }
      : { prompt: input.prompt }),
    ...(opts.incremental === false
      ? { stream: false }
      : { stream: true, stream_options: { include_usage: true } }),
    max_tokens: params.maxTokens ?? DEFAULT_MAX_TOKENS,
    temperature: params.temperature ?? 0,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) body[k] = v;
  return { path: input.kind === "chat" ? "/chat/completions" : "/completions", body };
}

export function embedRequest(inputs: string[], upstreamModel: string): Record<string, unknown> {
  return { model: upstreamModel, input: inputs, encoding_format: "float" };
}

// ---------------------------------------------------------------------------------------------
// Response mapping (pure)

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

/** What one streamed chunk (or a whole non-streamed response) contributes. */
export interface ChunkUpdate {
  text: string;
  finishReason?: string | undefined;
  usage?: Usage | undefined;
  /** The upstream reported an error inside the stream. */
  error?: string | undefined;
}

type Json = Record<string, unknown>;

const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const count = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);

function usageOf(u: unknown): Usage | undefined {
  if (!isRecord(u)) return undefined;
  const details = isRecord(u.prompt_tokens_details) ? u.prompt_tokens_details : {};
  return {
    promptTokens: count(u.prompt_tokens),
    completionTokens: count(u.completion_tokens),
    cachedTokens: count(details.cached_tokens),
  };
}

function errorText(e: unknown): string {
  if (isRecord(e)) return str(e.message) ?? JSON.stringify(e).slice(0, MAX_MESSAGE);
  return String(e).slice(0, MAX_MESSAGE);
}

/**
 * Reads one `data:` payload of a chat or text completion stream; a whole non-streamed response
 * (`message.content`) reads the same way. Only choice 0 counts: requests are sent with n=1.
 */
export function parseChunk(data: string): ChunkUpdate {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { text: "", error: "malformed JSON in the event stream" };
  }
  if (!isRecord(json)) return { text: "", error: "unexpected event in the event stream" };
  if (json.error !== undefined && json.error !== null) return { text: "", error: errorText(json.error) };
  const choices = Array.isArray(json.choices) ? json.choices : [];
  const choice = choices.find((c) => isRecord(c) && (c.index ?? 0) === 0) as Json | undefined;
  const delta = isRecord(choice?.delta) ? choice.delta : isRecord(choice?.message) ? choice.message : {};
  return {
    text: str(delta.content) ?? str(choice?.text) ?? "",
    finishReason: str(choice?.finish_reason),
    usage: usageOf(json.usage),
  };
}

/** The platform has no tool calls or content filter of its own: whatever is not "length" stopped. */
export function toFinishReason(upstream: string | undefined): FinishReason {
  return upstream === "length" ? "length" : "stop";
}

/** Vectors in input order, unit length, from an OpenAI embeddings response. */
export function parseEmbeddings(json: unknown, expected: number): EmbedResult {
  const data = isRecord(json) && Array.isArray(json.data) ? json.data : undefined;
  if (!data || data.length !== expected) {
    throw new Error(`expected ${expected} embeddings, got ${data?.length ?? "none"}`);
  }
  const vectors: (number[] | undefined)[] = Array.from({ length: expected }, () => undefined);
  data.forEach((item: unknown, i) => {
    const index = isRecord(item) && typeof item.index === "number" ? item.index : i;
    const values = isRecord(item) ? item.embedding : undefined;
    if (!Array.isArray(values) || !values.every((x) => typeof x === "number")) {
      throw new Error(`embedding ${i} is not a list of numbers`);
    }
    if (!Number.isInteger(index) || index < 0 || index >= expected || vectors[index] !== undefined) {
      throw new Error(`embedding ${i} has a missing or repeated index ${index}`);
    }
    vectors[index] = l2Normalize(values);
  });
  return {
    vectors: vectors as number[][],
    promptTokens: usageOf(isRecord(json) ? json.usage : undefined)?.promptTokens ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Failure classification (pure)

const MAX_MESSAGE = 500;

/** The message, param and code of an error body in OpenAI's, vLLM's, TGI's or llama-server's shape. */
export function parseErrorBody(text: string): { message: string; param?: string; code?: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { message: text.trim().slice(0, MAX_MESSAGE) };
  }
  const root = isRecord(json) ? json : {};
  const e = isRecord(root.error) ? root.error : root;
  const message = str(e.message) ?? str(root.error) ?? str(root.detail) ?? text.trim();
  const code = str(e.code) ?? str(root.error_type);
  const param = str(e.param);
  return { message: message.slice(0, MAX_MESSAGE), ...(param ? { param } : {}), ...(code ? { code } : {}) };
}

/** Retry-After in whole seconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export type HttpVerdict =
  | { action: "throw"; error: AppError }
  | {
      action: "next";
      what: string;
      rateLimited: boolean;
      retryAfterS?: number | undefined;
      /** The upstream refused our credential: the platform's misconfiguration. */
      credentials: boolean;
    };

/**
 * What an upstream HTTP error means for the caller. The caller's own mistakes (bad request,
 * unknown model) surface at once; anything the platform could fix or wait out moves on to the
 * next deployment.
 */
export function httpVerdict(status: number, bodyText: string, retryAfter: string | null): HttpVerdict {
  const { message, param, code } = parseErrorBody(bodyText);
  const what = `HTTP ${status}${message ? `: ${message}` : ""}`;
  const next = { action: "next" as const, what, rateLimited: false, credentials: false };
  if (status === 429) return { ...next, rateLimited: true, retryAfterS: parseRetryAfter(retryAfter) };
  if (status === 401 || status === 403 || status === 407) return { ...next, credentials: true };
  if (status === 404) {
    // A 404 about the model is the caller's; one about the path is a misconfigured base URL.
    if (code === "model_not_found" || /model/i.test(message)) {
      const error = new NotFoundError(message || "model not found upstream", {
        param: param ?? "model",
        reason: "model_not_found",
      });
      return { action: "throw", error };
    }
    return next;
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 425) {
    return { action: "throw", error: new InvalidArgumentError(message || what, { param, reason: code }) };
  }
  return next;
}

/** Connection failures worth another try at the same deployment. */
const RETRYABLE_CONNECT = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

/** fetch() rejects with `TypeError("fetch failed")` whose `cause` holds the socket error and its code. */
export function connectFailure(err: unknown): { what: string; retryable: boolean } {
  // Duck-typed: the error may come from another realm (undici is Node's own), where instanceof fails.
  const cause = isRecord(err) && isRecord(err.cause) ? err.cause : err;
  const code = isRecord(cause) ? str(cause.code) : undefined;
  if (code) return { what: code, retryable: RETRYABLE_CONNECT.has(code) };
  return { what: (isRecord(cause) ? str(cause.message) : undefined) ?? String(cause), retryable: false };
}

export interface AttemptFailure {
  /** The deployment's URL without credentials or query. */
  url: string;
  what: string;
  attempts: number;
  rateLimited: boolean;
  retryAfterS?: number | undefined;
}

/** Every deployment refused: busy everywhere is RESOURCE_EXHAUSTED, anything else UNAVAILABLE. */
export function allFailedError(model: string, failures: AttemptFailure[]): AppError {
  if (failures.length > 0 && failures.every((f) => f.rateLimited)) {
    const waits = failures.flatMap((f) => (f.retryAfterS === undefined ? [] : [f.retryAfterS]));
    const retry = waits.length > 0 ? `; retry after ${Math.min(...waits)} s` : "";
    return new ResourceExhaustedError(`every upstream deployment of '${model}' is rate limited${retry}`, {
      reason: "upstream_rate_limited",
    });
  }
  const tried = failures
    .map((f) => `${f.url}: ${f.what}${f.attempts > 1 ? ` (${f.attempts} attempts)` : ""}`)
    .join("; ");
  return new UnavailableError(`no upstream deployment of '${model}' answered: ${tried}`, {
    reason: "upstream_unavailable",
  });
}

/** A URL fit for logs and error messages: no user info, query or fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "<invalid url>";
  }
}

export function backoffMs(attempt: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** (attempt - 1), 2_000);
}

// ---------------------------------------------------------------------------------------------
// The backend

/** A stream that broke before any text reached the caller: safe to try the next deployment. */
class EarlyFailure extends Error {}

type AbortCause = "caller" | "deadline" | "closed";

/** One request's cancellation: the caller's signal, the whole-request deadline and close(). */
class RequestScope {
  private readonly ctl = new AbortController();
  private readonly timer: NodeJS.Timeout;
  cause: AbortCause | undefined;

  constructor(
    private readonly caller: AbortSignal,
    private readonly timeoutMs: number,
  ) {
    this.timer = setTimeout(() => this.abort("deadline"), timeoutMs);
    caller.addEventListener("abort", this.onCaller, { once: true });
    if (caller.aborted) this.abort("caller");
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  private readonly onCaller = () => this.abort("caller");

  abort(cause: AbortCause): void {
    if (this.cause) return;
    this.cause = cause;
    this.ctl.abort(this.error());
  }

  error(): AppError {
    if (this.cause === "deadline") {
      return new DeadlineExceededError(`the upstream request did not finish within ${this.timeoutMs} ms`);
    }
    if (this.cause === "closed") return new UnavailableError("the engine is shutting down");
    return new CancelledError("the request was cancelled", { cause: this.caller.reason });
  }

  /** The error to throw after a failed step: an abort explains it better than the error it caused. */
  explain(err: unknown): unknown {
    return this.cause ? this.error() : err;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller.removeEventListener("abort", this.onCaller);
  }
}

interface Progress {
  /** Text chunks handed to the caller. */
  chunks: number;
  usage: Usage | undefined;
  finish: FinishReason | undefined;
}

type Attempt<T> = { ok: true; value: T } | { ok: false; failure: AttemptFailure };

type Consume<T> = (res: Response) => Promise<T>;

function failedAttempt<T>(f: Omit<AttemptFailure, "rateLimited"> & { rateLimited?: boolean }): Attempt<T> {
  const { url, what, attempts, rateLimited = false, retryAfterS } = f;
  return { ok: false, failure: { url, what, attempts, rateLimited, retryAfterS } };
}

export interface UpstreamBackendOptions {
  logger: Logger;
  /** First pause before retrying an unreachable deployment; doubles per attempt. */
  retryBackoffMs?: number;
}

/**
 * A model served by OpenAI-compatible servers (vLLM, TGI, llama-server, another SloughGPT
 * gateway). Deployments are tried in order: unreachable, overloaded or misconfigured ones fall
 * through to the next, but only until the first text reaches the caller.
 */
export class UpstreamBackend implements ModelBackend {
  readonly info: ModelInfo;
  private readonly logger: Logger;
  private readonly admission: Admission;
  private readonly retryBackoffMs: number;
  private readonly scopes = new Set<RequestScope>();
  private readonly active = new Set<Promise<unknown>>();
  private closed = false;
  private reportedNoUsage = false;

  constructor(
    private readonly spec: UpstreamSpec,
    opts: UpstreamBackendOptions,
  ) {
    this.logger = opts.logger.child({ component: "upstream" });
    this.admission = new Admission(spec.concurrency, spec.maxQueue);
    this.retryBackoffMs = opts.retryBackoffMs ?? 200;
    this.info = {
      id: spec.id,
      contextSize: spec.contextSize,
      quantization: "upstream",
      createdUnix: Math.floor(Date.now() / 1000),
      engine: "openai-compatible",
      chatTemplate: "upstream",
    };
  }

  get running(): number {
    return this.admission.running;
  }

  get queued(): number {
    return this.admission.queued;
  }

  generate(params: GenerateParams, opts: GenerateOptions): Promise<GenerateResult> {
    return this.track(opts.signal, async (scope) => {
      const progress: Progress = { chunks: 0, usage: undefined, finish: undefined };
      try {
        const req = generateRequest(params, this.spec.id, { incremental: opts.incremental });
        return await this.forward(
          req.path,
          (d) => ({ ...req.body, model: d.model ?? this.spec.id }),
          scope,
          (res) => this.readCompletion(res, opts.onDelta, progress, scope),
        );
      } catch (err) {
        // What was generated before the caller went away stands, as with the llama engine.
        if (scope.cause === "caller") return cancelledResult(progress);
        throw err;
      }
    });
  }

  /** The OpenAI API has no tokenizer endpoint, and the servers that add one disagree on its shape. */
  tokenize(_inputs: string[], _opts: { signal: AbortSignal }): Promise<TokenizeResult> {
    return Promise.reject(
      new FailedPreconditionError(
        `model ${this.spec.id} is served by an openai-compatible upstream, which cannot tokenize here`,
        { reason: "tokenize_unsupported" },
      ),
    );
  }

  embed(inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult> {
    if (inputs.length === 0) return Promise.resolve({ vectors: [], promptTokens: 0 });
    return this.track(opts.signal, (scope) =>
      this.forward(
        "/embeddings",
        (d) => embedRequest(inputs, d.model ?? this.spec.id),
        scope,
        async (res) => {
          try {
            return parseEmbeddings(await res.json(), inputs.length);
          } catch (err) {
            throw scope.explain(new EarlyFailure(`bad embeddings response: ${(err as Error).message}`));
          }
        },
      ),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const scope of this.scopes) scope.abort("closed");
    await Promise.allSettled([...this.active]);
  }

  /** Runs `fn` under admission with its own scope, and lets close() abort and wait for it. */
  private track<T>(signal: AbortSignal, fn: (scope: RequestScope) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new UnavailableError("the engine is shutting down"));
    const scope = new RequestScope(signal, this.spec.timeoutMs);
    this.scopes.add(scope);
    const run = async () => {
      try {
        const release = await this.admission.acquire(scope.signal).catch((err) => {
          throw scope.explain(err);
        });
        try {
          return await fn(scope);
        } finally {
          release();
        }
      } finally {
        scope.dispose();
        this.scopes.delete(scope);
      }
    };
    const p = run();
    this.active.add(p);
    void p.finally(() => this.active.delete(p)).catch(() => undefined);
    return p;
  }

  /** Tries each deployment in order until one answers. */
  private async forward<T>(
    path: string,
    bodyFor: (d: Deployment) => Record<string, unknown>,
    scope: RequestScope,
    consume: Consume<T>,
  ): Promise<T> {
    const failures: AttemptFailure[] = [];
    for (const d of this.spec.deployments) {
      const attempt = await this.tryDeployment(d, path, JSON.stringify(bodyFor(d)), scope, consume);
      if (attempt.ok) return attempt.value;
      failures.push(attempt.failure);
      const { url, attempts, what } = attempt.failure;
      this.logger.warn({ deployment: url, attempts, error: what }, "Skipped upstream deployment");
    }
    throw allFailedError(this.spec.id, failures);
  }

  private async tryDeployment<T>(
    d: Deployment,
    path: string,
    body: string,
    scope: RequestScope,
    consume: Consume<T>,
  ): Promise<Attempt<T>> {
    const url = redactUrl(d.url);
    for (let attempt = 1; ; attempt++) {
      const sent = await this.post(d, path, body, scope);
      if ("response" in sent) return this.answer(sent.response, { url, attempts: attempt }, scope, consume);
      const { what, retryable } = sent.unreachable;
      if (!retryable || attempt > this.spec.connectRetries)
        return failedAttempt({ url, what, attempts: attempt });
      this.logger.debug({ deployment: url, attempt, error: what }, "Retrying unreachable upstream");
      await sleep(backoffMs(attempt, this.retryBackoffMs), undefined, { signal: scope.signal }).catch(
        (err) => {
          throw scope.explain(err);
        },
      );
    }
  }

  /** Reads a response: an error status becomes a verdict, a success goes to `consume`. */
  private async answer<T>(
    res: Response,
    at: { url: string; attempts: number },
    scope: RequestScope,
    consume: Consume<T>,
  ): Promise<Attempt<T>> {
    if (!res.ok) {
      const verdict = httpVerdict(res.status, await readErrorBody(res), res.headers.get("retry-after"));
      if (verdict.action === "throw") throw verdict.error;
      if (verdict.credentials) {
        this.logger.error({ deployment: at.url, status: res.status }, "Rejected credentials upstream");
      }
      return failedAttempt({ ...at, ...verdict });
    }
    try {
      return { ok: true, value: await consume(res) };
    } catch (err) {
      if (!scope.cause && err instanceof EarlyFailure) return failedAttempt({ ...at, what: err.message });
      throw scope.explain(err);
    }
  }

  /**
   * One POST. Resolves to the response once its headers arrive, or to the connection failure;
   * connectTimeoutMs bounds the wait for the headers.
   */
  private async post(
    d: Deployment,
    path: string,
    body: string,
    scope: RequestScope,
  ): Promise<{ response: Response } | { unreachable: { what: string; retryable: boolean } }> {
    const connect = new AbortController();
    const timer = setTimeout(() => connect.abort(), this.spec.connectTimeoutMs);
    try {
      const response = await httpPost(`${d.url}${path}`, {
        headers: {
          "content-type": "application/json",
          accept: path === "/embeddings" ? "application/json" : "text/event-stream",
          ...(d.apiKey ? { authorization: `Bearer ${d.apiKey}` } : {}),
        },
        body,
        signal: AbortSignal.any([scope.signal, connect.signal]),
      });
      return { response };
    } catch (err) {
      if (scope.cause) throw scope.error();
      if (connect.signal.aborted) {
        return {
          unreachable: { what: `no response within ${this.spec.connectTimeoutMs} ms`, retryable: true },
        };
      }
      return { unreachable: connectFailure(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Hands each text delta to the caller in order, awaiting it (backpressure), and returns the outcome. */
  private async readCompletion(
    res: Response,
    onDelta: GenerateOptions["onDelta"],
    progress: Progress,
    scope: RequestScope,
  ): Promise<GenerateResult> {
    progress.usage = undefined;
    progress.finish = undefined;
    const updates = this.updates(res, progress);
    try {
      for (let u = await updates.next(); !u.done; u = await updates.next()) {
        // Deltas already read from the socket are not handed on once the caller has gone.
        if (scope.cause) throw scope.error();
        progress.chunks += 1;
        await onDelta(u.value);
      }
    } catch (err) {
      if (scope.cause) throw scope.error();
      if (err instanceof EarlyFailure && progress.chunks > 0) {
        throw new UnavailableError(`the upstream stream failed after output was sent: ${err.message}`, {
          reason: "upstream_stream_failed",
        });
      }
      throw err;
    } finally {
      await updates.return(undefined);
    }
    return this.result(progress);
  }

  /** The text deltas of a completion response; usage and finish reason go into `progress`. */
  private async *updates(res: Response, progress: Progress): AsyncGenerator<string> {
    const json = res.headers.get("content-type")?.includes("application/json");
    // A server that ignored `stream: true` answered with one whole completion.
    const payloads = json ? wholeBody(res) : streamPayloads(res);
    let ended = false;
    for await (const data of guard(payloads)) {
      if (data === "[DONE]") {
        ended = true;
        break;
      }
      const u = parseChunk(data);
      if (u.error !== undefined) throw new EarlyFailure(`upstream error: ${u.error}`);
      if (u.usage) progress.usage = u.usage;
      if (u.finishReason) progress.finish = toFinishReason(u.finishReason);
      if (u.text) yield u.text;
    }
    if (!ended && !json && progress.finish === undefined) {
      throw new EarlyFailure("the upstream stream ended before the completion finished");
    }
  }

  private result(progress: Progress): GenerateResult {
    if (!progress.usage && !this.reportedNoUsage) {
      this.reportedNoUsage = true;
      this.logger.debug("Received no usage from upstream; token counts are reported as 0");
    }
    return {
      finishReason: progress.finish ?? "stop",
      promptTokens: progress.usage?.promptTokens ?? 0,
      completionTokens: progress.usage?.completionTokens ?? 0,
      cachedTokens: progress.usage?.cachedTokens ?? 0,
    };
  }
}

/**
 * A cancelled stream never gets its usage chunk. Upstream servers send about one token per
 * chunk, so the chunks seen are a lower bound for what the caller received.
 */
function cancelledResult(progress: Progress): GenerateResult {
  return {
    finishReason: "cancelled",
    promptTokens: progress.usage?.promptTokens ?? 0,
    completionTokens: Math.max(progress.usage?.completionTokens ?? 0, progress.chunks),
    cachedTokens: progress.usage?.cachedTokens ?? 0,
  };
}

async function* streamPayloads(res: Response): AsyncGenerator<string> {
  if (!res.body) return;
  for await (const ev of sseEvents(res.body)) yield ev.data;
}

async function* wholeBody(res: Response): AsyncGenerator<string> {
  yield await res.text();
}

/** Read and parse failures of the upstream's body become EarlyFailure; aborts pass unchanged. */
async function* guard(source: AsyncGenerator<string>): AsyncGenerator<string> {
  try {
    yield* source;
  } catch (err) {
    if (err instanceof EarlyFailure) throw err;
    const { what } = connectFailure(err);
    throw new EarlyFailure(`reading the upstream stream failed: ${what}`);
  }
}

const MAX_ERROR_BODY = 64 * 1024;

/** The start of an error body: it only feeds a message, so the rest is not read. */
async function readErrorBody(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      text += decoder.decode(r.value, { stream: true });
      if (text.length >= MAX_ERROR_BODY) break;
    }
  } catch {
    // A body that breaks off still has a status worth reporting.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text.slice(0, MAX_ERROR_BODY);
}
