import { z } from "zod";

/** What the parent asks of one child: the same settings for every weight type but the model file. */
export const childSpecSchema = z.object({
  modelPath: z.string().min(1),
  threads: z.number().int().min(1),
  contextSize: z.number().int().min(1),
  /** Continued greedily for `maxTokens` tokens, `requests` times after a warm-up. */
  prompt: z.string().min(1),
  maxTokens: z.number().int().min(1),
  requests: z.number().int().min(1),
  /** Length of the prompt whose evaluation (no generation) is timed, as often as `requests`. */
  promptTokens: z.number().int().min(1),
});
export type ChildSpec = z.infer<typeof childSpecSchema>;

// JSON writes NaN (no /proc) as null.
const bytes = z
  .number()
  .nullable()
  .transform((n) => n ?? Number.NaN);
const resident = z.object({ rss: bytes, peak: bytes, anon: bytes, file: bytes });
const timed = z.object({ tokens: z.number().int().min(0), seconds: z.number().positive() });

export const childResultSchema = z.object({
  memory: z.object({
    /** The engine started, no model yet: what every type shares. */
    beforeLoad: resident,
    /** Model loaded and context created, nothing evaluated yet. */
    loaded: resident,
    /** After every measurement. */
    end: resident,
  }),
  decode: timed,
  promptEval: timed,
  /** The engine's build features ("AVX2 = 1 | AMX_INT8 = 1 | ..."), which decide the kernels used. */
  systemInfo: z.string(),
});
export type ChildResult = z.infer<typeof childResultSchema>;

/** A child that failed, hung or printed no valid result. */
export class QuantChildError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "QuantChildError";
  }
}

/** The child's result: the last non-empty line of its stdout (the engine may print before it). */
export function parseChildOutput(stdout: string): ChildResult {
  const last = stdout.trimEnd().split("\n").at(-1) ?? "";
  let json: unknown;
  try {
    json = JSON.parse(last);
  } catch (error) {
    throw new QuantChildError(`the child printed no result line, last line: '${last}'`, { cause: error });
  }
  const result = childResultSchema.safeParse(json);
  if (!result.success) {
    throw new QuantChildError(`the child's result is malformed: ${result.error.message}`, {
      cause: result.error,
    });
  }
  return result.data;
}
