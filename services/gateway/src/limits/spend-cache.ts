import type { SpendReader } from "./gate.js";

const MAX_ENTRIES = 10_000;

/**
 * Remembers each spend reading for `ttlMs`, and lets concurrent requests of one caller share one
 * read: a busy key with a budget costs the ledger a few reads a second, not one per request. The
 * budget check then lags by up to `ttlMs` more than the ledger does (budgets are soft limits).
 * Failed reads are not remembered.
 */
export function cachedSpend(read: SpendReader, ttlMs: number, now: () => number = Date.now): SpendReader {
  if (ttlMs <= 0) return read;
  const entries = new Map<string, { at: number; value: ReturnType<SpendReader> }>();
  return (who, period) => {
    const key = `${period}\u0000${who.keyId ?? ""}\u0000${who.team ?? ""}`;
    const hit = entries.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    if (entries.size >= MAX_ENTRIES) entries.clear();
    const value = read(who, period);
    entries.set(key, { at: now(), value });
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key);
    });
    return value;
  };
}
