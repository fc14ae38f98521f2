import { parseArgs } from "node:util";
import { z } from "zod";

export const USAGE = `Usage: pnpm bench:serving [options]

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
  --rounds <n>           rounds over all levels and paths; medians are reported (default 4)
  --concurrency <list>   comma-separated client counts, must include 1 and 8 (default 1,4,8,16)
  --pin                  serving on its own CPUs, everything else on the rest (Linux, taskset)
  --quick                smoke run: 1 round, concurrency 1,8, 16 tokens, 8 requests
  -h, --help             show this help`;

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
}

export type BenchCommand = { help: true } | ({ help: false } & BenchOptions);

const FULL: Omit<BenchOptions, "type" | "threads" | "pin"> = {
  sequences: 16,
  contextSize: 1024,
  maxTokens: 64,
  requests: 16,
  rounds: 4,
  concurrency: [1, 4, 8, 16],
};

const QUICK: Partial<BenchOptions> = { rounds: 1, concurrency: [1, 8], maxTokens: 16, requests: 8 };

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

/** Parses and validates the command line; throws UsageError naming the bad flag or variable. */
export function parseBenchArgs(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): BenchCommand {
  const values = parse(argv);
  if (values.help) return { help: true };
  const fromEnv = envSchema.safeParse(env);
  if (!fromEnv.success) {
    throw new UsageError(`LLAMA_THREADS must be an integer from 1 to 256, got '${env.LLAMA_THREADS}'`);
  }
  const options: BenchOptions = {
    ...FULL,
    ...(values.quick ? QUICK : {}),
    type: values.type ?? "q8_0",
    threads: fromEnv.data.LLAMA_THREADS,
    pin: values.pin === true,
  };
  for (const [flag, key] of Object.entries(INTEGER_FLAGS)) {
    const text = values[flag as keyof typeof INTEGER_FLAGS];
    if (text !== undefined) options[key] = integer(flag, text);
  }
  if (values.concurrency !== undefined) options.concurrency = levels(values.concurrency);
  checkLimits(options);
  return { help: false, ...options };
}

function parse(argv: readonly string[]) {
  const strings = Object.fromEntries(
    [...Object.keys(INTEGER_FLAGS), "type", "concurrency"].map((f) => [f, { type: "string" as const }]),
  ) as Record<keyof typeof INTEGER_FLAGS | "type" | "concurrency", { type: "string" }>;
  try {
    return parseArgs({
      args: [...argv],
      options: {
        ...strings,
        quick: { type: "boolean" },
        pin: { type: "boolean" },
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

function levels(text: string): number[] {
  const list = text.split(",").map((part) => integer("concurrency", part));
  return [...new Set(list)].sort((a, b) => a - b);
}

// The prompt is 33 tokens; serving also keeps a few free.
const PROMPT_ROOM = 64;

function checkLimits(o: BenchOptions): void {
  if (o.maxTokens + PROMPT_ROOM > o.contextSize) {
    throw new UsageError(
      `--max-tokens ${o.maxTokens} leaves no room for the prompt in --context ${o.contextSize}`,
    );
  }
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
