import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Logger, UnavailableError } from "@sloughgpt/runtime";
import { Admission } from "./admission.js";
import type { DeltaItem } from "./delta-batcher.js";
import type {
  EmbedResult,
  GenerateOptions,
  GenerateParams,
  GenerateResult,
  ModelBackend,
  ModelInfo,
  TokenizeResult,
} from "./engine.js";
import type { LlamaEngineOptions } from "./llama-engine.js";
import { type FromWorker, fromWire, type ToWorker } from "./worker-protocol.js";

const WORKER = fileURLToPath(new URL("./worker-main.ts", import.meta.url));

export type EngineProcessOptions = Omit<LlamaEngineOptions, "logger"> & {
  /** The engine process sends its generations' deltas at most this often (DeltaBatcher); 0: each at once. */
  streamIntervalMs?: number | undefined;
};

interface Call {
  onDelta?: GenerateOptions["onDelta"];
  /** Deltas are handed on in order, each after the previous one's write finished. */
  pending: Promise<void>;
  /** Deltas that arrived while a write was in progress, handed on together when it ends. */
  waiting?: { text: string; tokens: number } | undefined;
  resolve: (v: never) => void;
  reject: (e: unknown) => void;
}

export interface ProcessBackendHooks {
  /** The engine process died unexpectedly (not through close()). */
  onCrash?: (info: { code: number | null; signal: NodeJS.Signals | null }) => void;
}

/**
 * A llama.cpp engine in its own process (worker-main.ts). If the process dies, the requests it was
 * serving fail with UNAVAILABLE, a new process is started with backoff, and requests that arrive
 * meanwhile wait for it (or for their own deadline).
 */
export class ProcessBackend implements ModelBackend {
  private child!: ChildProcess;
  private ready!: Promise<void>;
  /** An engine process is up and answering. */
  private up = false;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private closed = false;
  private crashes = 0;
  private readonly admission: Admission;
  /** Times the engine process was started again after dying. */
  restarts = 0;

  private constructor(
    readonly info: ModelInfo,
    private readonly opts: EngineProcessOptions,
    private readonly logger: Logger,
    private readonly hooks: ProcessBackendHooks,
  ) {
    this.admission = new Admission(opts.sequences, opts.maxQueue);
  }

  /** Starts the engine process and resolves once the model is loaded; rejects with the load error. */
  static async start(
    opts: EngineProcessOptions,
    logger: Logger,
    hooks: ProcessBackendHooks = {},
  ): Promise<ProcessBackend> {
    const { child, info } = await spawnEngine(opts, logger);
    const backend = new ProcessBackend(info, opts, logger, hooks);
    backend.attach(child);
    backend.ready = Promise.resolve();
    return backend;
  }

  get running(): number {
    return this.admission.running;
  }

  get queued(): number {
    return this.admission.queued;
  }

  /** The engine process id (for operators and tests). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private attach(child: ChildProcess): void {
    this.child = child;
    this.up = true;
    child.on("message", (m: FromWorker) => this.onMessage(m));
    child.once("exit", (code, signal) => {
      if (this.child !== child) return;
      this.up = false;
      this.failAll(
        new UnavailableError(
          `the engine process for model ${this.info.id} exited (${signal ?? `code ${code}`}) and is being restarted`,
        ),
      );
      if (this.closed) return;
      this.logger.error({ model: this.info.id, code, signal }, "Engine process died; restarting it");
      this.hooks.onCrash?.({ code, signal });
      this.ready = this.restart();
      // A request that arrives while restarting awaits `ready`; nobody may be waiting now.
      this.ready.catch(() => undefined);
    });
  }

  private async restart(): Promise<void> {
    this.crashes += 1;
    const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (this.crashes - 1));
    await new Promise((r) => setTimeout(r, delay).unref());
    if (this.closed) throw new UnavailableError("the engine is shutting down");
    try {
      const { child } = await spawnEngine(this.opts, this.logger);
      if (this.closed) {
        child.kill("SIGKILL");
        throw new UnavailableError("the engine is shutting down");
      }
      this.restarts += 1;
      this.attach(child);
      // A process that stays up a while resets the backoff.
      setTimeout(() => {
        if (this.child === child && child.exitCode === null) this.crashes = 0;
      }, RESTART_MAX_MS).unref();
    } catch (err) {
      this.logger.error({ err, model: this.info.id }, "Engine process failed to restart");
      // Try again later; requests meanwhile fail fast with the reason.
      this.ready = this.restart();
      this.ready.catch(() => undefined);
      throw new UnavailableError(`the engine for model ${this.info.id} is restarting`, { cause: err });
    }
  }

  private onMessage(m: FromWorker): void {
    if (m.t === "ready" || m.t === "load-failed") return;
    if (m.t === "deltas") {
      for (const item of m.items) {
        const call = this.calls.get(item.id);
        if (call) deliver(call, item);
      }
      return;
    }
    const call = this.calls.get(m.id);
    if (!call) return;
    switch (m.t) {
      case "generated":
      case "embedded":
      case "tokenized": {
        this.calls.delete(m.id);
        const result = m.result;
        call.pending.then(() => call.resolve(result as never), call.reject);
        break;
      }
      case "failed":
        this.calls.delete(m.id);
        call.reject(fromWire(m.error));
        break;
    }
  }

  private failAll(err: Error): void {
    for (const call of this.calls.values()) call.reject(err);
    this.calls.clear();
  }

  private call<T>(
    msg:
      | { t: "generate"; params: GenerateParams }
      | { t: "embed"; inputs: string[] }
      | { t: "tokenize"; inputs: string[] },
    signal: AbortSignal,
    onDelta?: Call["onDelta"],
  ): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => this.send({ t: "cancel", id });
      const done = () => signal.removeEventListener("abort", onAbort);
      this.calls.set(id, {
        onDelta,
        pending: Promise.resolve(),
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      signal.addEventListener("abort", onAbort, { once: true });
      this.send({ ...msg, id } as ToWorker);
      if (signal.aborted) onAbort();
    });
  }

  private send(m: ToWorker): void {
    if (this.child.connected) this.child.send(m);
  }

  private async whenReady(signal: AbortSignal): Promise<void> {
    if (this.closed) throw new UnavailableError("the engine is shutting down");
    signal.throwIfAborted();
    if (this.up) return;
    await Promise.race([
      this.ready,
      new Promise<never>((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
      ),
    ]);
  }

  async generate(params: GenerateParams, opts: GenerateOptions): Promise<GenerateResult> {
    const release = await this.admission.acquire(opts.signal);
    try {
      await this.whenReady(opts.signal);
      return await this.call<GenerateResult>({ t: "generate", params }, opts.signal, opts.onDelta);
    } finally {
      release();
    }
  }

  async embed(inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult> {
    await this.whenReady(opts.signal);
    return this.call<EmbedResult>({ t: "embed", inputs }, opts.signal);
  }

  async tokenize(inputs: string[], opts: { signal: AbortSignal }): Promise<TokenizeResult> {
    await this.whenReady(opts.signal);
    return this.call<TokenizeResult>({ t: "tokenize", inputs }, opts.signal);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    // The engine stops its running generations (they finish as "cancelled") and exits.
    this.send({ t: "close" });
    const timer = setTimeout(() => child.kill("SIGKILL"), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    this.failAll(new UnavailableError("the engine is shutting down"));
  }
}

/** Hands a delta on after the previous one's write, joined with any that arrive meanwhile. */
function deliver(call: Call, item: DeltaItem): void {
  if (call.waiting) {
    call.waiting.text += item.text;
    call.waiting.tokens += item.tokens;
    return;
  }
  const next = { text: item.text, tokens: item.tokens };
  call.waiting = next;
  call.pending = call.pending.then(() => {
    call.waiting = undefined;
    return call.onDelta?.(next.text, next.tokens);
  });
}

const RESTART_BASE_MS = 250;
const RESTART_MAX_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;

/** Forks worker-main.ts and waits for its "ready" (or its load error). */
function spawnEngine(
  opts: EngineProcessOptions,
  logger: Logger,
): Promise<{ child: ChildProcess; info: ModelInfo }> {
  const child = fork(WORKER, [], {
    // The sources are TypeScript, run through tsx as every service is.
    execArgv: WORKER.endsWith(".ts") ? ["--import", "tsx"] : [],
    env: {
      ...process.env,
      SLOUGHGPT_ENGINE_OPTIONS: JSON.stringify({ ...opts, logLevel: logger.level }),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(
        new UnavailableError(
          `the engine process exited while loading the model (${signal ?? `code ${code}`})`,
        ),
      );
    const onMessage = (m: FromWorker) => {
      if (m.t === "ready") {
        cleanup();
        resolve({ child, info: m.info });
      } else if (m.t === "load-failed") {
        cleanup();
        child.once("exit", () => undefined);
        reject(fromWire(m.error));
      }
    };
    const cleanup = () => {
      child.off("exit", onExit);
      child.off("message", onMessage);
    };
    child.once("exit", onExit);
    child.on("message", onMessage);
    child.once("error", (err) => {
      cleanup();
      reject(err);
    });
  });
}
