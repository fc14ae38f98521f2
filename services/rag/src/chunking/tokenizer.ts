/** A model's tokens of each text, as the offsets where they start (serving's Tokenize in production). */
export interface Tokenizer {
  tokenize(model: string, texts: string[], signal?: AbortSignal): Promise<number[][]>;
}
