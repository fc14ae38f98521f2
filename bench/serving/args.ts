import { parseArgs } from "node:util";
import { z } from "zod";

export const USAGE = `Usage: pnpm bench:serving [options]
       pnpm bench:serving --quantizations [--threads n] [--context n] [--max-tokens n] [--requests n]
                                          [--rounds n] [--quick]

Generates the same completions three ways on the same GGUF with the same threads and sequences:
node-llama-cpp in this process (the limit), serving's gRPC Generate, and the gateway's
/v1/completions through the openai SDK; prints tokens/s, TTFT and each path's ratio to raw.
Needs NATS on 127.0.0.1:4222 and Postgres on 127.0.0.1:5432.

  --type <type>          weight type of the generated bench model (default q8_0)
  --threads <n>          decode threads (default $LLAMA_THREADS, else 1)
  --sequences <n>        parallel sequences in the context (default 16)
  --context <n>          tokens per sequence (default 1024)
  --max-tokens <n>       tokens generated per request (default 64)
  --requests <n>         requests per measurement, at least one per client (default 16)
  --rounds <n>           rounds over all levels and paths; medians are reported (default 8)
  --concurrency <list>   comma-separated client counts, must include 1 and 8 (default 1,4,8,16)
  --pin                  serving on its own CPUs, everything else on the rest (Linux, taskset)
  --stream-interval <ms> serving's STREAM_INTERVAL_MS: how often its engine process sends what it
                         generated (default: serving's own, 10; 0 sends every token on its own)
  --quick                smoke run: 1 round, concurrency 1,8, 16 tokens, 8 requests
  --quantizations        compare the bench model's weight types instead (below)
  -h, --help             show this help

--quantizations compares the weight types f16, q8_0, q4_0 and q4_k of the bench model, each loaded
alone in a fresh child process with one sequence, the types interleaved over the rounds: file size,
resident memory (VmRSS, VmHWM), decode tokens/s and the tokens/s of evaluating a 512-token prompt,
each also as a ratio to f16 in the same round. Needs neither NATS nor Postgres. Its defaults:
--context 1024, --max-tokens 128, --requests 4 (timed, after one warm-up), --rounds 5; --quick:
1 round, 2 requests of 32 tokens. --type, --sequences, --concurrency and --pin do not apply.`;

export class UsageError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "UsageError";
  }
}

export interface BenchOptions {
  /** Passed to ensureTinyModel, which rejects types it cannot write. */
  type: string;
  threads: number;
  sequences: number;
  contextSize: number;
  maxTokens: number;
  requests: number;
  rounds: number;
  concurrency: number[];
  /** Keep serving off the CPUs the gateway and the clients run on. */
  pin: boolean;
  /** serving's STREAM_INTERVAL_MS; unset: serving's default. */
  streamIntervalMs?: number;
}

/** `--quantizations`: the bench model in each weight type, one fresh child process per measurement. */
export interface QuantOptions {
  threads: number;
  contextSize: number;
  /** Tokens generated per decode request. */
  maxTokens: number;
  /** Timed decode requests (and prompt evaluations) per child, after one warm-up of each. */
  requests: number;
  rounds: number;
  /** Length of the prompt whose evaluation is timed. */
  promptTokens: number;
}

export type BenchCommand =
  | { mode: "help" }
  | ({ mode: "serving" } & BenchOptions)
  | ({ mode: "quantizations" } & QuantOptions);

const FULL: Omit<BenchOptions, "type" | "threads" | "pin"> = {
  sequences: 16,
  contextSize: 1024,
  maxTokens: 64,
  requests: 16,
  rounds: 8,
  concurrency: [1, 4, 8, 16],
};

const QUICK: Partial<BenchOptions> = { rounds: 1, concurrency: [1, 8], maxTokens: 16, requests: 8 };

const QUANT_FULL: Omit<QuantOptions, "threads"> = {
  contextSize: 1024,
  maxTokens: 128,
  requests: 4,
  rounds: 5,
  promptTokens: 512,
};

const QUANT_QUICK: Partial<QuantOptions> = { rounds: 1, maxTokens: 32, requests: 2 };

const count = z.coerce.number().int().min(1);

const envSchema = z.object({
  /** Decode threads when --threads is not given, as serving reads it. */
  LLAMA_THREADS: count.max(256).default(1),
});

const INTEGER_FLAGS = {
  threads: "threads",
  sequences: "sequences",
  context: "contextSize",
  "max-tokens": "maxTokens",
  requests: "requests",
  rounds: "rounds",
} as const;
type IntegerFlag = keyof typeof INTEGER_FLAGS;

/** Serving-comparison flags: --quantizations runs every type alone, with one sequence, unpinned. */
const SERVING_ONLY = ["type", "sequences", "concurrency", "pin", "stream-interval"] as const;

type Values = ReturnType<typeof parse>;

/** Parses and validates the command line; throws UsageError naming the bad flag or variable. */
export function parseBenchArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): BenchCommand {
  const values = parse(argv);
  if (values.help) return { mode: "help" };
  const fromEnv = envSchema.safeParse(env);
  if (!fromEnv.success) {
    throw new UsageError(`LLAMA_THREADS must be an integer from 1 to 256, got '${env.LLAMA_THREADS}'`);
  }
  const threads = fromEnv.data.LLAMA_THREADS;
  return values.quantizations ? quantCommand(values, threads) : servingCommand(values, threads);
}

function servingCommand(values: Values, threads: number): BenchCommand {
  const options: BenchOptions = {
    ...FULL,
    ...(values.quick ? QUICK : {}),
    type: values.type ?? "q8_0",
    threads,
    pin: values.pin === true,
  };
  setIntegers(options, values, Object.keys(INTEGER_FLAGS) as IntegerFlag[]);
  if (values.concurrency !== undefined) options.concurrency = levels(values.concurrency);
  const interval = values["stream-interval"];
  if (interval !== undefined) options.streamIntervalMs = milliseconds("stream-interval", interval);
  checkLimits(options);
  return { mode: "serving", ...options };
}

function quantCommand(values: Values, threads: number): BenchCommand {
  const misplaced = SERVING_ONLY.find((flag) => values[flag] !== undefined);
  if (misplaced) throw new UsageError(`--${misplaced} does not apply to --quantizations`);
  const options: QuantOptions = { ...QUANT_FULL, ...(values.quick ? QUANT_QUICK : {}), threads };
  setIntegers(options, values, ["threads", "context", "max-tokens", "requests", "rounds"]);
  checkQuantLimits(options);
  return { mode: "quantizations", ...options };
}

function setIntegers<K extends IntegerFlag>(
  options: Record<(typeof INTEGER_FLAGS)[K], number>,
  values: Values,
  flags: readonly K[],
): void {
  for (const flag of flags) {
    const text = values[flag];
    if (text !== undefined) options[INTEGER_FLAGS[flag]] = integer(flag, text);
  }
}

function parse(argv: readonly string[]) {
  const strings = Object.fromEntries(
    [...Object.keys(INTEGER_FLAGS), "type", "concurrency", "stream-interval"].map((f) => [
      f,
      { type: "string" as const },
    ]),
  ) as Record<IntegerFlag | "type" | "concurrency" | "stream-interval", { type: "string" }>;
  try {
    return parseArgs({
      args: [...argv],
      options: {
        ...strings,
        quick: { type: "boolean" },
        pin: { type: "boolean" },
        quantizations: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

function integer(flag: string, text: string): number {
  const n = count.safeParse(text);
  if (!n.success || !/^\d+$/.test(text.trim())) {
    throw new UsageError(`--${flag} must be a positive integer, got '${text}'`);
  }
  return n.data;
}

/** Serving takes 0 to 1000 ms. */
function milliseconds(flag: string, text: string): number {
  const n = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || n > 1000) {
    throw new UsageError(`--${flag} must be an integer from 0 to 1000 (ms), got '${text}'`);
  }
  return n;
}

function levels(text: string): number[] {
  const list = text.split(",").map((part) => integer("concurrency", part));
  return [...new Set(list)].sort((a, b) => a - b);
}

// The prompt is 33 tokens; serving also keeps a few free.
const PROMPT_ROOM = 64;

function checkMaxTokens(o: { maxTokens: number; contextSize: number }): void {
  if (o.maxTokens + PROMPT_ROOM > o.contextSize) {
    throw new UsageError(
      `--max-tokens ${o.maxTokens} leaves no room for the prompt in --context ${o.contextSize}`,
    );
  }
}

function checkLimits(o: BenchOptions): void {
  checkMaxTokens(o);
  if (!o.concurrency.includes(1) || !o.concurrency.includes(8)) {
    throw new UsageError("--concurrency must include 1 and 8 (the ratio line reports both)");
  }
  const most = Math.max(...o.concurrency);
  if (most > o.sequences) {
    throw new UsageError(
      `--concurrency ${most} exceeds --sequences ${o.sequences}: requests would queue for a sequence`,
    );
  }
}

function checkQuantLimits(o: QuantOptions): void {
  checkMaxTokens(o);
  if (o.promptTokens >= o.contextSize) {
    throw new UsageError(
      `--context ${o.contextSize} cannot hold the ${o.promptTokens}-token prompt whose evaluation is timed`,
    );
  }
}
