import { parseArgs } from "node:util";
import { z } from "zod";
import { UsageError } from "../serving/args.js";

export { UsageError };

export const USAGE = `Usage: pnpm bench:gateway [options]

What the gateway adds in front of serving: one SloughGPT platform whose serving answers the
benchmark's one greedy chat request from its response cache, so every path measures transport. The
same request goes four ways to that one serving process:

  grpc      serving's gRPC Generate
  gateway   the gateway's /v1/chat/completions, with an API key created for the run (to serving's gRPC)
  nginx     nginx proxy_pass (own process, own config in a temp dir) to serving's OpenAI-compatible HTTP API
  direct    serving's OpenAI-compatible HTTP API itself

Prints requests/s, latency p50/p99, the latency each path adds over grpc in the same round and each
path's requests/s divided by nginx's; the last line is
gateway_added_p50_ms=<gateway p50 - grpc p50 at 1 client> gateway_vs_nginx_rps=<gateway / nginx at 8>.
Needs NATS on 127.0.0.1:4222, Postgres on 127.0.0.1:5432 and nginx (apt-get install -y nginx).

  --requests <n>         requests per measurement, at least one per client (default 400)
  --rounds <n>           rounds over all levels and paths; medians are reported (default 5)
  --concurrency <list>   comma-separated client counts, must include 1 and 8 (default 1,8,32)
  --max-tokens <n>       max_tokens of the request, cached whatever its size (default 16)
  --nginx-workers <n>    nginx worker processes (default 1: one event loop, like the gateway)
  --admin-key-only       call the gateway with the bootstrap admin key instead of creating a
                         consumer key with rpm/tpm limits (for gateways without POST /v1/admin/keys;
                         the per-key rate limiter then does not run)
  --quick                smoke run: 1 round, concurrency 1,8, 100 requests
  -h, --help             show this help`;

export interface GatewayBenchOptions {
  requests: number;
  rounds: number;
  concurrency: number[];
  maxTokens: number;
  nginxWorkers: number;
  adminKeyOnly: boolean;
}

export type GatewayBenchCommand = { mode: "help" } | ({ mode: "gateway" } & GatewayBenchOptions);

const FULL: Omit<GatewayBenchOptions, "adminKeyOnly"> = {
  requests: 400,
  rounds: 5,
  concurrency: [1, 8, 32],
  maxTokens: 16,
  nginxWorkers: 1,
};

const QUICK: Partial<GatewayBenchOptions> = { rounds: 1, concurrency: [1, 8], requests: 100 };

const INTEGER_FLAGS = {
  requests: "requests",
  rounds: "rounds",
  "max-tokens": "maxTokens",
  "nginx-workers": "nginxWorkers",
} as const;
type IntegerFlag = keyof typeof INTEGER_FLAGS;

/** Bounds that keep a run finite and the request valid for the tiny model's context. */
const LIMITS: Record<IntegerFlag | "concurrency", number> = {
  requests: 100_000,
  rounds: 100,
  "max-tokens": 256,
  "nginx-workers": 64,
  concurrency: 256,
};

const count = z.coerce.number().int().min(1);

/** Parses and validates the command line; throws UsageError naming the bad flag. */
export function parseGatewayBenchArgs(argv: readonly string[]): GatewayBenchCommand {
  const values = parse(argv);
  if (values.help) return { mode: "help" };
  const options: GatewayBenchOptions = {
    ...FULL,
    ...(values.quick ? QUICK : {}),
    adminKeyOnly: values["admin-key-only"] === true,
  };
  for (const flag of Object.keys(INTEGER_FLAGS) as IntegerFlag[]) {
    const text = values[flag];
    if (text !== undefined) options[INTEGER_FLAGS[flag]] = integer(flag, text);
  }
  if (values.concurrency !== undefined) options.concurrency = levels(values.concurrency);
  if (!options.concurrency.includes(1) || !options.concurrency.includes(8)) {
    throw new UsageError("--concurrency must include 1 and 8 (the last line reports both)");
  }
  return { mode: "gateway", ...options };
}

function parse(argv: readonly string[]) {
  const strings = Object.fromEntries(
    [...Object.keys(INTEGER_FLAGS), "concurrency"].map((f) => [f, { type: "string" as const }]),
  ) as Record<IntegerFlag | "concurrency", { type: "string" }>;
  try {
    return parseArgs({
      args: [...argv],
      options: {
        ...strings,
        quick: { type: "boolean" },
        "admin-key-only": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

function integer(flag: IntegerFlag | "concurrency", text: string): number {
  const n = count.safeParse(text);
  if (!n.success || !/^\d+$/.test(text.trim())) {
    throw new UsageError(`--${flag} must be a positive integer, got '${text}'`);
  }
  if (n.data > LIMITS[flag]) throw new UsageError(`--${flag} must be at most ${LIMITS[flag]}, got ${n.data}`);
  return n.data;
}

function levels(text: string): number[] {
  const list = text.split(",").map((part) => integer("concurrency", part));
  return [...new Set(list)].sort((a, b) => a - b);
}
