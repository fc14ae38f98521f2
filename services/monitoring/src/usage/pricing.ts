import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/**
 * Prices are USD per 1M tokens with at most 6 decimals, held as integer micro-USD per 1M tokens,
 * which is exactly pico-USD (1e-12 USD) per token: a cost is then an exact integer product.
 */
export interface ModelPrice {
  input: bigint;
  /** Prompt tokens reused from an earlier evaluation (prefix reuse). */
  cachedInput: bigint;
  output: bigint;
}

export type PriceTable = ReadonlyMap<string, ModelPrice>;

export class PriceConfigError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = "PriceConfigError";
  }
}

const MAX_MICROS = 10n ** 15n; // a billion USD per 1M tokens: anything above is a typo

/** "0.15" or 0.15 → 150000n; refuses negatives, exponents and more than 6 decimals. */
export function parsePriceMicros(value: number | string): bigint | undefined {
  const text = typeof value === "number" ? (Number.isFinite(value) ? String(value) : "") : value.trim();
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(text);
  if (!m) return undefined;
  const micros = BigInt(m[1] as string) * 1_000_000n + BigInt((m[2] ?? "").padEnd(6, "0"));
  return micros <= MAX_MICROS ? micros : undefined;
}

const price = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const micros = parsePriceMicros(v);
  if (micros === undefined) {
    ctx.addIssue({
      code: "custom",
      message: "expected USD per 1M tokens: a non-negative number with at most 6 decimals",
    });
    return z.NEVER;
  }
  return micros;
});

const priceEntry = z.strictObject({
  /** USD per 1M prompt tokens. */
  input: price,
  /** USD per 1M cached prompt tokens; unset bills them at `input` (no implicit discount). */
  cachedInput: price.optional(),
  /** USD per 1M completion tokens. */
  output: price,
});

const priceFile = z.record(z.string().min(1), priceEntry);

/** Validates a parsed price document: `{ <model id>: { input, output, cachedInput? } }`. */
export function parsePriceTable(raw: unknown, source: string): PriceTable {
  const parsed = priceFile.safeParse(raw ?? {});
  if (!parsed.success) throw new PriceConfigError(`${source}: ${z.prettifyError(parsed.error)}`);
  return new Map(
    Object.entries(parsed.data).map(([model, p]) => [
      model,
      { input: p.input, cachedInput: p.cachedInput ?? p.input, output: p.output },
    ]),
  );
}

/**
 * MODEL_PRICES: inline JSON (it starts with `{`) or the path of a YAML/JSON file. Unset: no
 * prices, every record costs 0 and counts as unpriced.
 */
export async function loadPriceTable(
  value: string | undefined,
  read: (path: string) => Promise<string> = (p) => readFile(p, "utf8"),
): Promise<PriceTable> {
  if (!value) return new Map();
  const inline = value.trimStart().startsWith("{");
  const source = inline ? "MODEL_PRICES" : `MODEL_PRICES (${value})`;
  let text: string;
  try {
    text = inline ? value : await read(value);
  } catch (err) {
    throw new PriceConfigError(`${source}: cannot read the file: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new PriceConfigError(`${source}: not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
  return parsePriceTable(raw, source);
}

export interface TokenCounts {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

/**
 * Cost in pico-USD. Cached tokens are part of the prompt (as in OpenAI's usage), so they are
 * billed at `cachedInput` instead of `input`, never on top of it.
 */
export function costPicos(t: TokenCounts, p: ModelPrice): bigint {
  const cached = BigInt(Math.min(t.cachedTokens, t.promptTokens));
  const uncached = BigInt(t.promptTokens) - cached;
  return uncached * p.input + cached * p.cachedInput + BigInt(t.completionTokens) * p.output;
}

function formatScaled(n: bigint, decimals: number): string {
  const scale = 10n ** BigInt(decimals);
  const whole = n / scale;
  const frac = (n % scale).toString().padStart(decimals, "0");
  return `${whole}.${frac}`;
}

/** pico-USD → exact decimal USD with 12 places, the ledger's `numeric(30,12)`. */
export function formatPicos(picos: bigint): string {
  return formatScaled(picos, 12);
}

/** micro-USD per 1M tokens → decimal USD per 1M tokens with 6 places. */
export function formatMicros(micros: bigint): string {
  return formatScaled(micros, 6);
}
