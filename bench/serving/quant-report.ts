import type { TinyLlamaTensorType } from "@sloughgpt/gguf";
import type { ChildResult } from "./quant-protocol.js";
import { fixed, markdownTable } from "./report.js";
import { median } from "./stats.js";

/** The weight types compared, in table order; every ratio divides by the first one's value. */
export const QUANT_TYPES = ["f16", "q8_0", "q4_0", "q4_k"] as const satisfies readonly TinyLlamaTensorType[];
export type QuantType = (typeof QUANT_TYPES)[number];
const BASELINE: QuantType = QUANT_TYPES[0];

/** One fresh child process: one weight type in one round. */
export interface QuantMeasurement {
  round: number;
  type: QuantType;
  result: ChildResult;
}

/** Medians over rounds; each ratio pairs a round with the baseline's measurement in the same round. */
export interface QuantRow {
  type: QuantType;
  fileBytes: number;
  sizeRatio: number;
  /** VmRSS with the model loaded and the context created. */
  rssBytes: number;
  rssRatio: number;
  /** What loading the model and creating the context added to the resident memory. */
  modelAndContextBytes: number;
  /** The two parts of rssBytes: memory the process allocated, and pages of mapped files. */
  anonBytes: number;
  mappedFileBytes: number;
  /** VmHWM once every measurement ran. */
  peakBytes: number;
  decodeTokensPerSecond: number;
  decodeRatio: number;
  promptTokensPerSecond: number;
  promptRatio: number;
}

type Metric = (r: ChildResult) => number;

const loadedRss: Metric = (r) => r.memory.loaded.rss;
const decodeRate: Metric = (r) => rate(r.decode);
const promptRate: Metric = (r) => rate(r.promptEval);

function rate(t: { tokens: number; seconds: number }): number {
  return t.seconds > 0 ? t.tokens / t.seconds : Number.NaN;
}

/** One row per measured type, in QUANT_TYPES order; `fileBytes` holds each type's GGUF size. */
export function summarizeQuant(
  measurements: readonly QuantMeasurement[],
  fileBytes: Partial<Record<QuantType, number>>,
): QuantRow[] {
  const baseline = new Map(measurements.filter((m) => m.type === BASELINE).map((m) => [m.round, m.result]));
  return QUANT_TYPES.flatMap((type) => {
    const mine = measurements.filter((m) => m.type === type);
    return mine.length === 0 ? [] : [quantRow(type, mine, baseline, fileBytes)];
  });
}

function quantRow(
  type: QuantType,
  mine: readonly QuantMeasurement[],
  baseline: ReadonlyMap<number, ChildResult>,
  fileBytes: Partial<Record<QuantType, number>>,
): QuantRow {
  const mid = (metric: Metric) => median(mine.map((m) => metric(m.result)));
  const ratio = (metric: Metric) =>
    median(
      mine.map((m) => {
        const base = baseline.get(m.round);
        return base ? metric(m.result) / metric(base) : Number.NaN;
      }),
    );
  const bytes = fileBytes[type] ?? Number.NaN;
  return {
    type,
    fileBytes: bytes,
    sizeRatio: bytes / (fileBytes[BASELINE] ?? Number.NaN),
    rssBytes: mid(loadedRss),
    rssRatio: ratio(loadedRss),
    modelAndContextBytes: mid((r) => r.memory.loaded.rss - r.memory.beforeLoad.rss),
    anonBytes: mid((r) => r.memory.loaded.anon),
    mappedFileBytes: mid((r) => r.memory.loaded.file),
    peakBytes: mid((r) => r.memory.end.peak),
    decodeTokensPerSecond: mid(decodeRate),
    decodeRatio: ratio(decodeRate),
    promptTokensPerSecond: mid(promptRate),
    promptRatio: ratio(promptRate),
  };
}

const vs = `÷ ${BASELINE}`;

/** Size on disk and resident memory per weight type, in MiB. */
export function formatMemoryTable(rows: readonly QuantRow[]): string {
  return markdownTable(
    [
      "type",
      "file bytes",
      "file MiB",
      vs,
      "RSS MiB",
      vs,
      "model+ctx MiB",
      "anon MiB",
      "file-backed MiB",
      "peak MiB",
    ],
    rows.map((r) => [
      r.type,
      fixed(r.fileBytes, 0),
      mib(r.fileBytes),
      fixed(r.sizeRatio, 2),
      mib(r.rssBytes),
      fixed(r.rssRatio, 2),
      mib(r.modelAndContextBytes),
      mib(r.anonBytes),
      mib(r.mappedFileBytes),
      mib(r.peakBytes),
    ]),
    1,
  );
}

/** Decode and prompt-evaluation throughput per weight type. */
export function formatSpeedTable(rows: readonly QuantRow[]): string {
  return markdownTable(
    ["type", "decode tokens/s", vs, "prompt tokens/s", vs],
    rows.map((r) => [
      r.type,
      fixed(r.decodeTokensPerSecond, 0),
      fixed(r.decodeRatio, 2),
      fixed(r.promptTokensPerSecond, 0),
      fixed(r.promptRatio, 2),
    ]),
    1,
  );
}

/** The machine-readable last line: decode tokens/s of the two 4-bit types over f16's. */
export function quantRatioLine(rows: readonly QuantRow[]): string {
  const at = (type: QuantType) => fixed(rows.find((r) => r.type === type)?.decodeRatio, 3);
  return `quant_tokens_per_s_ratio_q4_0=${at("q4_0")} quant_tokens_per_s_ratio_q4_k=${at("q4_k")}`;
}

function mib(bytes: number): string {
  return fixed(bytes / 2 ** 20, 1);
}
