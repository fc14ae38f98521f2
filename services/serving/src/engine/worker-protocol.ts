import { AppError } from "@sloughgpt/runtime";
import type { DeltaItem } from "./delta-batcher.js";
import type { EmbedResult, GenerateParams, GenerateResult, ModelInfo, TokenizeResult } from "./engine.js";

/** Parent → engine process. */
export type ToWorker =
  | { t: "generate"; id: number; params: GenerateParams }
  | { t: "embed"; id: number; inputs: string[] }
  | { t: "tokenize"; id: number; inputs: string[] }
  | { t: "cancel"; id: number }
  | { t: "close" };

/** Engine process → parent. */
export type FromWorker =
  | { t: "ready"; info: ModelInfo }
  | { t: "load-failed"; error: WireError }
  /** What running generations produced since the last message (see DeltaBatcher). */
  | { t: "deltas"; items: DeltaItem[] }
  | { t: "generated"; id: number; result: GenerateResult }
  | { t: "embedded"; id: number; result: EmbedResult }
  | { t: "tokenized"; id: number; result: TokenizeResult }
  | { t: "failed"; id: number; error: WireError };

/** An error as it crosses the process boundary: AppErrors keep their status code and details. */
export interface WireError {
  name: string;
  message: string;
  code?: number | undefined;
  param?: string | undefined;
  reason?: string | undefined;
}

export function toWire(err: unknown): WireError {
  if (err instanceof AppError) {
    return { name: err.name, message: err.message, code: err.code, param: err.param, reason: err.reason };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}

/** The error again on this side: an AppError with the same status, name and details, or a plain Error. */
export function fromWire(w: WireError): Error {
  const err =
    w.code === undefined
      ? new Error(w.message)
      : new AppError(w.code, w.message, { param: w.param, reason: w.reason });
  Object.defineProperty(err, "name", { value: w.name, configurable: true });
  return err;
}
