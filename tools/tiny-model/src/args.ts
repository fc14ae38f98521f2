import { parseArgs } from "node:util";
import {
  BENCH_LLAMA_OPTIONS,
  resolveTinyLlamaOptions,
  type TinyLlamaOptions,
  TinyLlamaOptionsError,
  type TinyLlamaTensorType,
} from "@sloughgpt/gguf";

export const DEFAULT_OUT = ".data/models/tiny-llama.gguf";

export const USAGE = `Usage: pnpm model:tiny [options]

Writes a LLaMA GGUF with seeded random weights (it generates gibberish words).

  --out <path>      output file (default ${DEFAULT_OUT})
  --type <type>     f32 | f16 | q8_0 | q4_0 | q4_k for the weight matrices (default
                    f16; q4_0 and q4_k keep the output matrix at q8_0, and q4_k
                    stores rows that are not a multiple of 256 as q8_0)
  --preset <name>   tiny (2 layers x 64, default) | bench (8 layers x 512)
  --seed <n>        PRNG seed, 0 to 2^32-1 (default 42); same seed, same bytes
  --layers <n>      block count
  --embd <n>        embedding length
  --ff <n>          feed-forward length
  --heads <n>       attention heads
  --kv-heads <n>    key/value heads (default: --heads)
  --ctx <n>         context length
  -h, --help        show this help`;

export class UsageError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "UsageError";
  }
}

export type TinyModelCommand = { help: true } | { help: false; out: string; options: TinyLlamaOptions };

const PRESETS: Record<string, TinyLlamaOptions> = { tiny: {}, bench: BENCH_LLAMA_OPTIONS };
const TYPES: readonly TinyLlamaTensorType[] = ["f32", "f16", "q8_0", "q4_0", "q4_k"];

const INTEGER_FLAGS = {
  seed: "seed",
  layers: "blockCount",
  embd: "embeddingLength",
  ff: "feedForwardLength",
  heads: "headCount",
  "kv-heads": "headCountKv",
  ctx: "contextLength",
} as const;

/** Parses and validates the command line; throws UsageError naming the bad flag. */
export function parseTinyModelArgs(argv: readonly string[]): TinyModelCommand {
  const { values } = parse(argv);
  if (values.help) return { help: true };
  const preset = PRESETS[values.preset ?? "tiny"];
  if (!preset) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(", ")}`);
  const type = (values.type ?? "f16") as TinyLlamaTensorType;
  if (!TYPES.includes(type)) throw new UsageError(`--type must be one of ${TYPES.join(", ")}`);
  const options: Record<string, unknown> = { ...preset, tensorType: type };
  for (const [flag, option] of Object.entries(INTEGER_FLAGS)) {
    const text = values[flag as keyof typeof INTEGER_FLAGS];
    if (text !== undefined) options[option] = integer(flag, text);
  }
  const headCount = options.headCount as number | undefined;
  if (values["kv-heads"] === undefined && headCount !== undefined) options.headCountKv = headCount;
  try {
    resolveTinyLlamaOptions(options);
  } catch (error) {
    if (error instanceof TinyLlamaOptionsError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  return { help: false, out: values.out ?? DEFAULT_OUT, options };
}

function parse(argv: readonly string[]) {
  const integerFlags = Object.fromEntries(
    Object.keys(INTEGER_FLAGS).map((flag) => [flag, { type: "string" }]),
  );
  try {
    return parseArgs({
      args: [...argv],
      options: {
        out: { type: "string" },
        type: { type: "string" },
        preset: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...(integerFlags as Record<keyof typeof INTEGER_FLAGS, { type: "string" }>),
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

function integer(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag} must be a non-negative integer, got '${text}'`);
  return Number(text);
}
