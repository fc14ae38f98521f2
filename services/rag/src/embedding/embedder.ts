/** Turns texts into L2-normalized vectors with a named model (serving's Embed in production). */
export interface Embedder {
  /** `team`: whose usage the embedding is (the collection's team), for metering and budgets. */
  embed(model: string, texts: string[], signal?: AbortSignal, team?: string): Promise<number[][]>;
}

/** Serving accepts at most 2048 inputs per call; smaller batches keep one call's latency bounded. */
export const EMBED_BATCH = 64;

/** How many times each input of a batch may be shortened before the error stands. */
const MAX_SHORTENINGS = 4;

/**
 * Which input a model refused as longer than its context, from serving's error (reason
 * `context_length_exceeded`, param `input.<i>`), and the share of it that fits when the message
 * states both counts ("input 0 has 618 tokens; the model's context holds 511").
 */
export function tooLongInput(err: unknown): { index: number; fits: number } | undefined {
  const e = err as { reason?: unknown; param?: unknown; message?: unknown };
  if (e?.reason !== "context_length_exceeded" || typeof e.param !== "string") return undefined;
  const m = /^input\.(\d+)$/.exec(e.param);
  if (!m) return undefined;
  const counts = /has (\d+) tokens.*holds (\d+)/.exec(String(e.message));
  const fits = counts ? Number(counts[2]) / Number(counts[1]) : 0.5;
  return { index: Number(m[1]), fits: Math.min(0.95, Math.max(0.1, fits * 0.95)) };
}

/**
 * Embeds `texts` in batches of `batch`, in order. A text longer than the model's context is
 * embedded by its longest prefix the model takes (cut at a word boundary): the chunk stays whole in
 * the lexical index, and its vector stands for the start of it.
 */
export async function embedAll(
  embedder: Embedder,
  model: string,
  texts: string[],
  opts: { batch?: number; signal?: AbortSignal | undefined; team?: string | undefined } = {},
): Promise<number[][]> {
  const batch = opts.batch ?? EMBED_BATCH;
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += batch) {
    opts.signal?.throwIfAborted();
    const part = texts.slice(i, i + batch);
    const vectors = await embedFitting(embedder, model, part, opts);
    if (vectors.length !== part.length)
      throw new Error(
        `embedding model '${model}' returned ${vectors.length} vectors for ${part.length} inputs`,
      );
    out.push(...vectors);
  }
  return out;
}

type Call = { signal?: AbortSignal | undefined; team?: string | undefined };

async function embedFitting(
  embedder: Embedder,
  model: string,
  texts: string[],
  call: Call,
): Promise<number[][]> {
  const inputs = [...texts];
  for (let attempt = 0; ; attempt++) {
    try {
      return await embedder.embed(model, inputs, call.signal, call.team);
    } catch (err) {
      if (attempt >= MAX_SHORTENINGS * inputs.length) throw err;
      if (isInternal(err)) return embedIsolated(embedder, model, inputs, call);
      shortenRefused(inputs, err);
    }
  }
}

/** Shortens the input serving refused as too long, or rethrows any other error. */
function shortenRefused(inputs: string[], err: unknown): void {
  const long = tooLongInput(err);
  const text = long ? inputs[long.index] : undefined;
  if (!long || text === undefined) throw err;
  inputs[long.index] = shorten(text, long.fits);
}

/**
 * Serving's length check counts tokens without the special ones its engine adds, so an input just
 * under the context fails inside the engine (INTERNAL) instead of as context_length_exceeded. The
 * batch is then embedded one input at a time, and an input that still fails is shortened by a
 * tenth, a bounded number of times, before the error stands.
 */
async function embedIsolated(
  embedder: Embedder,
  model: string,
  texts: string[],
  call: Call,
): Promise<number[][]> {
  const out: number[][] = [];
  for (const text of texts) {
    let input = text;
    for (let attempt = 0; ; attempt++) {
      try {
        out.push(...(await embedder.embed(model, [input], call.signal, call.team)));
        break;
      } catch (err) {
        if (!isInternal(err) || attempt >= MAX_SHORTENINGS) throw err;
        input = shorten(input, 0.9);
      }
    }
  }
  return out;
}

/** gRPC INTERNAL, as serving reports an engine failure. */
function isInternal(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 13;
}

/** The first `share` of a text, cut back to a word boundary when there is one. Pure. */
export function shorten(text: string, share: number): string {
  const cut = Math.max(1, Math.floor(text.length * share));
  const space = text.lastIndexOf(" ", cut);
  return text.slice(0, space > cut / 2 ? space : cut);
}
