const TIMEOUT = Symbol("timeout");

function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), Math.max(0, ms));
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type Reader<T> = { it: AsyncIterator<T>; pending: Promise<IteratorResult<T>> | undefined };

/** Adds items to `batch` until it is full, the linger has passed or the source ended (`done`). */
async function fill<T>(
  r: Reader<T>,
  batch: T[],
  opts: { max: number; lingerMs: number; buffered?: () => number },
): Promise<{ done: boolean }> {
  const deadline = Date.now() + opts.lingerMs;
  while (batch.length < opts.max) {
    r.pending ??= r.it.next();
    const next =
      (opts.buffered?.() ?? 0) > 0 ? await r.pending : await within(r.pending, deadline - Date.now());
    // The read stays pending and starts the next batch.
    if (next === TIMEOUT) return { done: false };
    r.pending = undefined;
    if (next.done) return { done: true };
    batch.push(next.value);
  }
  return { done: false };
}

/**
 * Groups items into batches of at most `max`: waits for a first item, then takes what is already
 * buffered (`buffered()` > 0) without waiting, and otherwise waits at most until `lingerMs` after
 * the first item. A busy source fills batches; a quiet one is never held longer than the linger.
 */
export async function* batches<T>(
  source: AsyncIterable<T>,
  opts: { max: number; lingerMs: number; buffered?: () => number },
): AsyncGenerator<T[]> {
  const r: Reader<T> = { it: source[Symbol.asyncIterator](), pending: undefined };
  for (;;) {
    const first = await (r.pending ?? r.it.next());
    r.pending = undefined;
    if (first.done) return;
    const batch = [first.value];
    const { done } = await fill(r, batch, opts);
    yield batch;
    if (done) return;
  }
}
