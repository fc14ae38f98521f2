/** Turns texts into L2-normalized vectors with a named model (serving's Embed in production). */
export interface Embedder {
  embed(model: string, texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

/** Serving accepts at most 2048 inputs per call; smaller batches keep one call's latency bounded. */
export const EMBED_BATCH = 64;

/** Embeds `texts` in batches of `batch`, in order. */
export async function embedAll(
  embedder: Embedder,
  model: string,
  texts: string[],
  opts: { batch?: number; signal?: AbortSignal | undefined } = {},
): Promise<number[][]> {
  const batch = opts.batch ?? EMBED_BATCH;
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += batch) {
    opts.signal?.throwIfAborted();
    const part = texts.slice(i, i + batch);
    const vectors = await embedder.embed(model, part, opts.signal);
    if (vectors.length !== part.length)
      throw new Error(
        `embedding model '${model}' returned ${vectors.length} vectors for ${part.length} inputs`,
      );
    out.push(...vectors);
  }
  return out;
}
