import { z } from "zod";
import type { GenerateResult } from "../engine/engine.js";

/** A finished generation as it is replayed to a later identical request. */
export interface CachedResponse {
  text: string;
  finishReason: "stop" | "length";
  promptTokens: number;
  completionTokens: number;
}

/** What a stored value must be; anything else read back (another version, a hand edit) is a miss. */
export const cachedResponseSchema = z.object({
  text: z.string(),
  finishReason: z.enum(["stop", "length"]),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
}) satisfies z.ZodType<CachedResponse>;

/** The entry to store for a finished generation; undefined for a cancelled one, which is never stored. */
export function toCachedResponse(text: string, result: GenerateResult): CachedResponse | undefined {
  if (result.finishReason === "cancelled") return undefined;
  return {
    text,
    finishReason: result.finishReason,
    promptTokens: result.promptTokens,
    completionTokens: result.completionTokens,
  };
}

/** The stored form: the same bytes in memory (for its size) and in the shared tier. */
export function encodeEntry(entry: CachedResponse): Uint8Array {
  const { text, finishReason, promptTokens, completionTokens } = entry;
  return Buffer.from(JSON.stringify({ text, finishReason, promptTokens, completionTokens }));
}

// Fatal: a stray byte must not come back as U+FFFD inside a replayed answer.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The entry the bytes hold, or why they hold none (not JSON, or not a CachedResponse). */
export function decodeEntry(bytes: Uint8Array): { entry: CachedResponse } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch {
    return { problem: "not UTF-8 JSON" };
  }
  const parsed = cachedResponseSchema.safeParse(json);
  return parsed.success ? { entry: parsed.data } : { problem: z.prettifyError(parsed.error) };
}
