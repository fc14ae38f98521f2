/**
 * Token estimates for admission, before serving has tokenized anything: about 4 bytes of UTF-8 a
 * token (OpenAI's rule of thumb for English; byte-level vocabularies give more tokens, never fewer
 * than a quarter of the bytes). The estimate is only a reservation: the rate limiter corrects it to
 * the tokens serving reports when the request ends.
 */
export function estimateTextTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, "utf8") / 4);
}

/** Prompt tokens of anything JSON-shaped (chat messages with their roles and parts). */
export function estimateJsonTokens(value: unknown): number {
  return estimateTextTokens(JSON.stringify(value) ?? "");
}

/** The completion a request may produce: what it asked for, or nothing (settled afterwards). */
export function completionAllowance(...limits: (number | null | undefined)[]): number {
  return limits.find((l): l is number => typeof l === "number") ?? 0;
}
