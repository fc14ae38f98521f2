import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { type Bus, consume, type ModelPublished, subjects } from "@sloughgpt/bus";
import { validateLlamaGguf } from "@sloughgpt/gguf";
import type { Logger } from "@sloughgpt/runtime";
import type { ModelRegistry } from "./registry.js";
import { type LlamaSpec, parseModelSpec } from "./spec.js";

/** What serving does with one `model.published` event. */
export type PublishedOutcome = "loaded" | "replaced" | "unchanged" | "rejected";

/** Serving settings for published models (threads, sequences…), from the service's config. */
export type PublishedModelDefaults = Partial<Omit<LlamaSpec, "id" | "path" | "engine">>;

export interface PublishedModelsOptions {
  registry: ModelRegistry;
  logger: Logger;
  defaults?: PublishedModelDefaults;
  /**
   * Only files under this directory are loaded (symbolic links resolved): whoever can publish on the
   * bus must not be able to make serving open any file it can read. Unset: any path.
   */
  root?: string | undefined;
}

/**
 * Registers and loads the models training jobs publish. Idempotent: an event for a file this
 * replica already loaded (same model id, path, size and modification time) changes nothing, so a
 * redelivered event never loads twice. A newer file under the same id replaces the loaded model.
 * A bad event (unreadable or malformed file, a path serving refuses) is logged and dropped: retrying
 * cannot fix it, and a model that is already serving stays up.
 */
export class PublishedModels {
  private readonly loadedFiles = new Map<string, string>();
  private readonly log: Logger;

  constructor(private readonly opts: PublishedModelsOptions) {
    this.log = opts.logger.child({ component: "published-models" });
  }

  async handle(event: ModelPublished): Promise<PublishedOutcome> {
    const { modelId: model, path } = event;
    const context = { model, path, job: event.job };
    let fileKey: string;
    try {
      const spec = parseModelSpec({ ...this.opts.defaults, id: model, path });
      if (spec.engine !== "llama") throw new TypeError("published models are GGUF files");
      await this.checkRoot(spec.path);
      const file = await stat(spec.path);
      fileKey = `${spec.path}:${file.size}:${file.mtimeMs}`;
      if (this.loadedFiles.get(model) === fileKey) {
        this.log.info(context, "Skipped a published model already loaded from this file");
        return "unchanged";
      }
      await validateLlamaGguf(spec.path);
      const replacing = this.opts.registry.spec(model) !== undefined;
      if (replacing) await this.opts.registry.unload(model);
      await this.opts.registry.load(model, spec);
      this.loadedFiles.set(model, fileKey);
      this.log.info({ ...context, replaced: replacing }, "Loaded a published model");
      return replacing ? "replaced" : "loaded";
    } catch (err) {
      this.log.error({ ...context, err }, "Rejected a published model; the event is dropped");
      return "rejected";
    }
  }

  private async checkRoot(file: string): Promise<void> {
    if (!this.opts.root) return;
    const [real, root] = await Promise.all([realpath(file), realpath(this.opts.root)]);
    const rel = path.relative(root, real);
    if (rel.startsWith("..") || path.isAbsolute(rel)) {
      throw new Error(`${file} is outside MODEL_EVENTS_ROOT (${this.opts.root})`);
    }
  }

  /** Consumes `model.published` until `signal` aborts; every event is acknowledged once handled. */
  consume(bus: Bus, durable: string, signal: AbortSignal): Promise<void> {
    return consume(bus, {
      def: subjects.modelPublished,
      durable,
      logger: this.log,
      signal,
      handler: async (event) => void (await this.handle(event)),
      // Named after the replica: a replaced pod's consumer is removed a day after it last pulled.
      inactiveThresholdMs: 24 * 3600 * 1000,
    });
  }
}
