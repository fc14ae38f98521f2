import { FailedPreconditionError, type Logger, NotFoundError, UnavailableError } from "@sloughgpt/runtime";
import type {
  EmbedResult,
  Engine,
  GenerateOptions,
  GenerateParams,
  GenerateResult,
  ModelBackend,
  ModelInfo,
  ModelState,
  TokenizeResult,
} from "../engine/engine.js";
import type { ModelSpec } from "./spec.js";

export type BackendFactory = (spec: ModelSpec) => Promise<ModelBackend>;

interface Entry {
  spec: ModelSpec;
  state: ModelState;
  backend?: ModelBackend | undefined;
  loading?: Promise<ModelBackend> | undefined;
  /** Requests using the backend now; an idle unload waits for zero. */
  inflight: number;
  idleTimer?: NodeJS.Timeout | undefined;
  lastError?: string | undefined;
  failedAt?: number | undefined;
  /** From the last successful load, so an idle model is still listed with its details. */
  info?: ModelInfo | undefined;
}

export interface RegistryHooks {
  onLoaded?: (id: string, seconds: number) => void;
  onUnloaded?: (id: string, reason: "idle" | "request" | "shutdown") => void;
}

/**
 * The models this service answers for. Declared models (registry file or environment) load at
 * start; LoadModel declares and loads more at run time, UnloadModel frees one. A model idle for its
 * `idleUnloadSeconds` is unloaded and loads again on the next request for it.
 */
export class ModelRegistry implements Engine {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    declared: ModelSpec[],
    private readonly factory: BackendFactory,
    private readonly logger: Logger,
    private readonly hooks: RegistryHooks = {},
    private readonly now: () => number = Date.now,
  ) {
    for (const spec of declared) this.entries.set(spec.id, { spec, state: "idle", inflight: 0 });
  }

  /** Loads every declared model. A model that fails stays listed as failed; the service stays up. */
  async start(): Promise<void> {
    for (const [id, entry] of this.entries) {
      await this.loadEntry(id, entry, true).catch(() => undefined);
    }
  }

  models(): (ModelInfo & { state: ModelState })[] {
    return [...this.entries.values()].map((e) => ({
      ...(e.backend?.info ?? e.info ?? placeholderInfo(e.spec)),
      state: e.state,
    }));
  }

  get running(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.backend?.running ?? 0;
    return n;
  }

  get queued(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.backend?.queued ?? 0;
    return n;
  }

  /** Per-model counts for metrics. */
  usage(): { model: string; running: number; queued: number }[] {
    return [...this.entries.values()]
      .filter((e) => e.backend)
      .map((e) => ({ model: e.spec.id, running: e.backend?.running ?? 0, queued: e.backend?.queued ?? 0 }));
  }

  spec(id: string): ModelSpec | undefined {
    return this.entries.get(id)?.spec;
  }

  generate(params: GenerateParams, opts: GenerateOptions): Promise<GenerateResult> {
    return this.using(params.model, (b) => b.generate(params, opts));
  }

  embed(model: string, inputs: string[], opts: { signal: AbortSignal }): Promise<EmbedResult> {
    return this.using(model, (b) => b.embed(inputs, opts));
  }

  tokenize(model: string, inputs: string[], opts: { signal: AbortSignal }): Promise<TokenizeResult> {
    return this.using(model, (b) => b.tokenize(inputs, opts));
  }

  /**
   * Loads `id` (declaring it from `spec` first when given). Loading a loaded model is a no-op;
   * a different spec for a loaded model is refused until it is unloaded.
   */
  async load(id: string, spec?: ModelSpec): Promise<ModelInfo & { state: ModelState }> {
    let entry = this.entries.get(id);
    if (spec) {
      if (entry && (entry.backend || entry.loading) && JSON.stringify(entry.spec) !== JSON.stringify(spec)) {
        throw new FailedPreconditionError(`model ${id} is loaded with a different spec; unload it first`, {
          param: "spec",
        });
      }
      if (!entry) {
        entry = { spec, state: "idle", inflight: 0 };
        this.entries.set(id, entry);
      } else entry.spec = spec;
    }
    if (!entry) throw modelNotFound(id);
    // An explicit load always tries again.
    const backend = await this.loadEntry(id, entry, true);
    return { ...backend.info, state: entry.state };
  }

  /** Unloads `id` and forgets it; requests for it get model_not_found until it is loaded again. */
  async unload(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry) throw modelNotFound(id);
    this.entries.delete(id);
    clearTimeout(entry.idleTimer);
    const backend = entry.backend ?? (await entry.loading?.catch(() => undefined));
    entry.backend = undefined;
    if (backend) {
      await backend.close();
      this.hooks.onUnloaded?.(id, "request");
      this.logger.info({ model: id }, "Unloaded model");
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(
      [...this.entries.entries()].map(async ([id, e]) => {
        clearTimeout(e.idleTimer);
        const backend = e.backend ?? (await e.loading?.catch(() => undefined));
        e.backend = undefined;
        e.state = "idle";
        if (backend) {
          await backend.close();
          this.hooks.onUnloaded?.(id, "shutdown");
        }
      }),
    );
  }

  private async using<T>(id: string, fn: (b: ModelBackend) => Promise<T>): Promise<T> {
    const entry = this.entries.get(id);
    if (!entry) throw modelNotFound(id);
    entry.inflight += 1;
    clearTimeout(entry.idleTimer);
    try {
      const backend = entry.backend ?? (await this.loadEntry(id, entry));
      return await fn(backend);
    } finally {
      entry.inflight -= 1;
      this.scheduleIdle(id, entry);
    }
  }

  private loadEntry(id: string, entry: Entry, retryFailed = false): Promise<ModelBackend> {
    if (entry.backend) return Promise.resolve(entry.backend);
    if (this.closed) return Promise.reject(new UnavailableError("the service is shutting down"));
    // A model that just failed to load is not retried by every request that names it.
    if (
      !entry.loading &&
      !retryFailed &&
      entry.failedAt !== undefined &&
      this.now() - entry.failedAt < FAILED_RETRY_MS
    ) {
      return Promise.reject(
        new UnavailableError(`model ${id} failed to load: ${entry.lastError ?? "unknown error"}`, {
          reason: "model_load_failed",
        }),
      );
    }
    if (!entry.loading) {
      const started = performance.now();
      entry.state = "loading";
      const spec = entry.spec;
      entry.loading = this.factory(spec).then(
        async (backend) => {
          entry.loading = undefined;
          // Unloaded or redeclared while loading: this backend is no longer wanted.
          if (this.entries.get(id) !== entry || entry.spec !== spec || this.closed) {
            await backend.close();
            throw new UnavailableError(`model ${id} was unloaded while it loaded`);
          }
          entry.backend = backend;
          entry.info = backend.info;
          entry.state = "loaded";
          entry.lastError = undefined;
          entry.failedAt = undefined;
          const seconds = (performance.now() - started) / 1000;
          this.hooks.onLoaded?.(id, seconds);
          this.scheduleIdle(id, entry);
          return backend;
        },
        (err: unknown) => {
          entry.loading = undefined;
          entry.state = "failed";
          entry.lastError = err instanceof Error ? err.message : String(err);
          entry.failedAt = this.now();
          this.logger.error({ err, model: id }, "Failed to load model");
          throw err;
        },
      );
    }
    return entry.loading;
  }

  private scheduleIdle(id: string, entry: Entry): void {
    const seconds = entry.spec.idleUnloadSeconds;
    if (!seconds || entry.inflight > 0 || !entry.backend) return;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      const backend = entry.backend;
      if (entry.inflight > 0 || !backend || this.entries.get(id) !== entry) return;
      entry.backend = undefined;
      entry.state = "idle";
      this.logger.info({ model: id, idleSeconds: seconds }, "Unloading idle model");
      this.hooks.onUnloaded?.(id, "idle");
      backend
        .close()
        .catch((err: unknown) => this.logger.error({ err, model: id }, "Failed to unload model"));
    }, seconds * 1000);
    entry.idleTimer.unref();
  }
}

/** How long a failed model answers UNAVAILABLE before a request may try loading it again. */
const FAILED_RETRY_MS = 10_000;

function modelNotFound(id: string): NotFoundError {
  return new NotFoundError(`The model '${id}' does not exist`, { param: "model", reason: "model_not_found" });
}

function placeholderInfo(spec: ModelSpec): ModelInfo {
  return {
    id: spec.id,
    contextSize: spec.contextSize,
    quantization: spec.engine === "llama" ? (spec.quantization ?? "unknown") : "upstream",
    createdUnix: 0,
    engine: spec.engine,
    chatTemplate: spec.engine === "llama" ? "unknown" : "upstream",
  };
}
