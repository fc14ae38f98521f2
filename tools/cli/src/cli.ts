import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { CliError, loadCredentials, saveCredentials } from "./config.js";
import { json, table } from "./format.js";
import { type Api, ApiError, createApi, sseData } from "./http.js";

export interface Io {
  /** Writes to standard output as is (chat streams partial lines). */
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** All of standard input, for `chat` without a prompt argument. */
  stdin(): Promise<string>;
  fetch?: typeof fetch;
  /**
   * For long-running commands (`train submit --local`): from the call on, Ctrl-C aborts the returned
   * signal instead of ending the process. Other commands keep Ctrl-C's default.
   */
  interrupt?: () => AbortSignal;
}

export const USAGE = `sloughgpt — the SloughGPT command line

  sloughgpt login --url <gateway> [--key <key>]      verify and remember a gateway and key
  sloughgpt models                                   models you can use
  sloughgpt chat [-m model] [--system text] [--max-tokens n] [--temperature t] [prompt]
                                                     stream an answer (prompt from stdin if omitted)
  sloughgpt keys create --name n --team t --role r [--rpm n] [--tpm n] [--budget-usd x]
                        [--budget-period daily|monthly] [--models a,b] [--expires-at iso]
  sloughgpt keys list
  sloughgpt keys revoke <id>
  sloughgpt usage [--group-by team|key|model] [--from yyyy-mm-dd] [--to yyyy-mm-dd]
  sloughgpt train submit -f job.yaml                 submit a TrainingJob manifest (YAML or JSON)
  sloughgpt train submit -f job.yaml --local [--log-dir dir]
                                                     run it here as local processes, until it ends
  sloughgpt train list | get <name> | cancel <name> | suspend <name> | resume <name> [--namespace ns]
  sloughgpt train logs <name> [--node i] [--tail n] [--attempt n] [--namespace ns]
                                                     the last lines of each node's trainer log

Every command takes --json for machine-readable output. SLOUGHGPT_URL and SLOUGHGPT_API_KEY override the
stored login; the login is kept in $SLOUGHGPT_CONFIG or ~/.config/sloughgpt/config.json (mode 0600).`;

type Values = Record<string, string | boolean | undefined>;
type Options = Record<string, { type: "string" | "boolean"; short?: string }>;

function parse(args: string[], options: Options): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({
      args,
      options: { ...options, json: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
}

const str = (v: Values, k: string) => (typeof v[k] === "string" ? (v[k] as string) : undefined);

function num(v: Values, k: string, opts: { int?: boolean; min?: number } = {}): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    throw new CliError(
      `--${k} must be ${opts.int ? "an integer" : "a number"}${opts.min !== undefined ? ` ≥ ${opts.min}` : ""}, got '${s}'`,
      2,
    );
  }
  return n;
}

/** Runs one command line; returns the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (!command || command === "help" || command === "--help" || command === "-h") {
      print(io, USAGE);
      return command ? 0 : 2;
    }
    const handler = COMMANDS[command];
    if (!handler) throw new CliError(`unknown command '${command}'\n\n${USAGE}`, 2);
    await handler(rest, io);
    return 0;
  } catch (err) {
    if (err instanceof ApiError && rest.includes("--json")) {
      io.err(json(err.body));
      return err.exitCode;
    }
    if (err instanceof CliError) {
      io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    io.err(`error: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

function chatBody(values: Values, model: string, prompt: string) {
  const system = str(values, "system");
  const maxTokens = num(values, "max-tokens", { int: true, min: 1 });
  const temperature = num(values, "temperature", { min: 0 });
  return {
    model,
    messages: [...(system ? [{ role: "system", content: system }] : []), { role: "user", content: prompt }],
    ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
  };
}

/** Writes the answer as it arrives; an error event in the stream fails the command. */
async function streamChat(client: Api, body: object, io: Io): Promise<void> {
  const res = await client.stream("/v1/chat/completions", { ...body, stream: true });
  let wrote = false;
  for await (const data of sseData(res)) {
    const chunk = JSON.parse(data) as {
      choices?: { delta?: { content?: string } }[];
      error?: { message?: string; code?: string };
    };
    if (chunk.error) {
      const code = chunk.error.code ? ` (${chunk.error.code})` : "";
      throw new CliError(`${chunk.error.message ?? "the stream failed"}${code}`);
    }
    const text = chunk.choices?.[0]?.delta?.content;
    if (text) {
      io.out(text);
      wrote = true;
    }
  }
  if (wrote) io.out("\n");
}

/** Prints a whole block followed by a newline. */
function print(io: Io, text: string): void {
  io.out(`${text}\n`);
}

async function api(io: Io): Promise<Api> {
  return createApi(await loadCredentials(io.env), io.fetch);
}

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<void>> = {
  async login(args, io) {
    const { values } = parse(args, { url: { type: "string" }, key: { type: "string" } });
    const url = (str(values, "url") ?? io.env.SLOUGHGPT_URL)?.replace(/\/+$/, "");
    const apiKey = str(values, "key") ?? io.env.SLOUGHGPT_API_KEY;
    if (!url || !apiKey)
      throw new CliError("login needs --url and --key (or SLOUGHGPT_URL / SLOUGHGPT_API_KEY)", 2);
    // Proves the URL and key work before anything is written.
    await createApi({ url, apiKey }, io.fetch).request("GET", "/v1/models");
    const file = await saveCredentials(io.env, { url, apiKey });
    print(io, values.json ? json({ url, config: file }) : `Logged in to ${url} (saved in ${file})`);
  },

  async models(args, io) {
    const { values } = parse(args, {});
    const res = await (await api(io)).request<{ data: { id: string; owned_by: string; created: number }[] }>(
      "GET",
      "/v1/models",
    );
    print(io, values.json ? json(res.data) : table(res.data, ["id", "owned_by", "created"]));
  },

  async chat(args, io) {
    const { values, positionals } = parse(args, {
      model: { type: "string", short: "m" },
      system: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
    });
    const prompt = positionals.join(" ") || (await io.stdin()).trim();
    if (!prompt) throw new CliError("chat needs a prompt (argument or standard input)", 2);
    // Options are checked before any request is made.
    const options = chatBody(values, "", prompt);
    const client = await api(io);
    const model =
      str(values, "model") ??
      (await client.request<{ data: { id: string }[] }>("GET", "/v1/models")).data[0]?.id;
    if (!model) throw new CliError("the gateway serves no model; pass --model");
    const body = { ...options, model };
    if (values.json) print(io, json(await client.request("POST", "/v1/chat/completions", body)));
    else await streamChat(client, body, io);
  },

  async keys(args, io) {
    const [sub, ...rest] = args;
    const run = sub ? KEYS[sub] : undefined;
    if (!run) throw new CliError(`keys takes create, list or revoke\n\n${USAGE}`, 2);
    await run(rest, io);
  },

  async train(args, io) {
    const [sub, ...rest] = args;
    const run = sub ? TRAIN[sub] : undefined;
    if (!run)
      throw new CliError(`train takes submit, list, get, logs, cancel, suspend or resume\n\n${USAGE}`, 2);
    await run(rest, io);
  },

  async usage(args, io) {
    const { values } = parse(args, {
      "group-by": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
    });
    const q = new URLSearchParams();
    q.set("group_by", str(values, "group-by") ?? "model");
    for (const k of ["from", "to"]) if (str(values, k)) q.set(k, str(values, k) as string);
    const res = await (await api(io)).request<{ data: Record<string, unknown>[] }>("GET", `/v1/usage?${q}`);
    const group = q.get("group_by") as string;
    print(
      io,
      values.json
        ? json(res.data)
        : table(res.data, [group, "requests", "prompt_tokens", "completion_tokens", "cost_usd"]),
    );
  },
};

const KEYS: Record<string, (args: string[], io: Io) => Promise<void>> = {
  async create(args, io) {
    const { values } = parse(args, {
      name: { type: "string" },
      team: { type: "string" },
      role: { type: "string" },
      rpm: { type: "string" },
      tpm: { type: "string" },
      "budget-usd": { type: "string" },
      "budget-period": { type: "string" },
      models: { type: "string" },
      "expires-at": { type: "string" },
    });
    for (const required of ["name", "team", "role"]) {
      if (!str(values, required)) throw new CliError(`keys create needs --${required}`, 2);
    }
    const body = {
      name: str(values, "name"),
      team: str(values, "team"),
      role: str(values, "role"),
      rpm: num(values, "rpm", { int: true, min: 1 }),
      tpm: num(values, "tpm", { int: true, min: 1 }),
      budget_usd: num(values, "budget-usd", { min: 0 }),
      budget_period: str(values, "budget-period"),
      models: str(values, "models")
        ?.split(",")
        .map((m) => m.trim())
        .filter(Boolean),
      expires_at: str(values, "expires-at"),
    };
    const created = await (await api(io)).request<{ id: string; key: string }>(
      "POST",
      "/v1/admin/keys",
      body,
    );
    print(
      io,
      values.json
        ? json(created)
        : `Created key ${created.id}. Store it now; it is not shown again:\n${created.key}`,
    );
  },

  async list(args, io) {
    const { values } = parse(args, {});
    const res = await (await api(io)).request<{ data: Record<string, unknown>[] }>("GET", "/v1/admin/keys");
    print(
      io,
      values.json ? json(res.data) : table(res.data, ["id", "name", "team", "role", "expires_at", "revoked"]),
    );
  },

  async revoke(args, io) {
    const { values, positionals } = parse(args, {});
    const id = positionals[0];
    if (!id) throw new CliError("keys revoke needs the key id", 2);
    const res = await (await api(io)).request("DELETE", `/v1/admin/keys/${encodeURIComponent(id)}`);
    print(io, values.json ? json(res) : `Revoked key ${id}`);
  },
};

interface TrainingJobJson {
  namespace: string;
  name: string;
  phase: string;
  created: number;
  status?: {
    restarts?: number;
    admission?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

const jobRow = (j: TrainingJobJson) => ({
  name: j.name,
  namespace: j.namespace,
  phase: j.phase,
  restarts: j.status?.restarts ?? 0,
  created: new Date(j.created * 1000).toISOString(),
});

/** `<name> [--namespace ns]` as the job's URL path and its `?namespace=` query. */
function jobTarget(
  args: string[],
  verb: string,
  options: Options = {},
): { values: Values; name: string; path: string; query: string } {
  const { values, positionals } = parse(args, { ...options, namespace: { type: "string", short: "n" } });
  const name = positionals[0];
  if (!name) throw new CliError(`train ${verb} needs the job's name`, 2);
  const ns = str(values, "namespace");
  const query = ns ? `?namespace=${encodeURIComponent(ns)}` : "";
  return { values, name, path: `/v1/training/jobs/${encodeURIComponent(name)}`, query };
}

function describeJob(j: TrainingJobJson): string {
  const current = j.status?.conditions?.find((c) => c.status === "True");
  const why = current?.message ?? j.status?.admission;
  return `${j.namespace}/${j.name}: ${j.phase}${current?.reason ? ` (${current.reason})` : ""}${why ? ` — ${why}` : ""}`;
}

async function jobAction(args: string[], io: Io, verb: "suspend" | "resume"): Promise<void> {
  const { values, path, query } = jobTarget(args, verb);
  const job = await (await api(io)).request<TrainingJobJson>("POST", `${path}:${verb}${query}`);
  print(io, values.json ? json(job) : describeJob(job));
}

const TRAIN: Record<string, (args: string[], io: Io) => Promise<void>> = {
  async submit(args, io) {
    const { values } = parse(args, {
      file: { type: "string", short: "f" },
      local: { type: "boolean" },
      "log-dir": { type: "string" },
    });
    const file = str(values, "file");
    if (!file) throw new CliError("train submit needs -f <manifest.yaml>", 2);
    const manifest = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new CliError(`cannot read ${file}: ${err.code ?? err.message}`, 2);
    });
    if (values.local) {
      await runLocal(manifest, str(values, "log-dir") ?? path.join(".sloughgpt", "train-logs"), io);
      return;
    }
    if (str(values, "log-dir")) throw new CliError("--log-dir goes with --local", 2);
    // Sent as a JSON string: the gateway takes a string body as the manifest text, YAML included.
    const job = await (await api(io)).request<TrainingJobJson>("POST", "/v1/training/jobs", manifest);
    print(io, values.json ? json(job) : `Submitted ${job.namespace}/${job.name} (${job.phase})`);
  },

  async list(args, io) {
    const { values } = parse(args, { namespace: { type: "string", short: "n" } });
    const ns = str(values, "namespace");
    const res = await (await api(io)).request<{ data: TrainingJobJson[] }>(
      "GET",
      `/v1/training/jobs${ns ? `?namespace=${encodeURIComponent(ns)}` : ""}`,
    );
    print(
      io,
      values.json
        ? json(res.data)
        : table(res.data.map(jobRow), ["name", "namespace", "phase", "restarts", "created"]),
    );
  },

  async get(args, io) {
    const { values, path, query } = jobTarget(args, "get");
    const job = await (await api(io)).request<TrainingJobJson>("GET", `${path}${query}`);
    print(io, values.json ? json(job) : describeJob(job));
  },

  async cancel(args, io) {
    const { values, name, path, query } = jobTarget(args, "cancel");
    const res = await (await api(io)).request("DELETE", `${path}${query}`);
    print(io, values.json ? json(res) : `Cancelled ${name}: the job and its pods are deleted`);
  },

  async logs(args, io) {
    const { values, path, query } = jobTarget(args, "logs", {
      node: { type: "string" },
      tail: { type: "string" },
      attempt: { type: "string" },
    });
    const q = new URLSearchParams(query.slice(1));
    const node = num(values, "node", { int: true, min: 0 });
    const tail = num(values, "tail", { int: true, min: 1 });
    const attempt = num(values, "attempt", { int: true, min: 0 });
    if (node !== undefined) q.set("node", String(node));
    if (tail !== undefined) q.set("tail", String(tail));
    if (attempt !== undefined) q.set("attempt", String(attempt));
    const res = await (await api(io)).request<{ data: NodeLogJson[] }>(
      "GET",
      `${path}/logs${q.size ? `?${q}` : ""}`,
    );
    if (values.json) {
      print(io, json(res.data));
      return;
    }
    // One node: its lines as they are; several: each line marked with its node, as `kubectl logs --prefix`.
    for (const n of res.data) {
      if (!n.text && n.message) io.err(`[node ${n.node}] ${n.message}`);
      if (res.data.length === 1) io.out(n.text);
      else io.out(prefixed(n.text, `[node ${n.node}] `));
    }
  },

  suspend: (args, io) => jobAction(args, io, "suspend"),
  resume: (args, io) => jobAction(args, io, "resume"),
};

interface NodeLogJson {
  node: number;
  attempt: number;
  source: string;
  text: string;
  message?: string;
}

const prefixed = (text: string, prefix: string) =>
  text
    .split("\n")
    .map((line, i, all) => (i === all.length - 1 && line === "" ? "" : `${prefix}${line}\n`))
    .join("");

/**
 * `train submit --local`: the controller's local backend, in this process. The job's nodes run as local
 * processes with the same rendezvous env, restarts and status model as in a cluster; phase changes are
 * printed as they happen and each node's output goes to `<logDir>/<namespace>/<job>/`.
 */
async function runLocal(manifestText: string, logDir: string, io: Io): Promise<void> {
  const { LocalJobCluster, parseManifest } = await import("@sloughgpt/training-controller");
  const { createLogger } = await import("@sloughgpt/runtime");
  let manifest: ReturnType<typeof parseManifest>;
  try {
    manifest = parseManifest(manifestText);
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
  const namespace = manifest.metadata.namespace ?? "default";
  const { name } = manifest.metadata;
  const dir = path.resolve(logDir);
  // Every phase change, as the runner publishes it (a poll would miss a Restarting that lasts a moment).
  const publish = (subject: string, payload: unknown) => {
    if (!subject.startsWith("training.job.")) return;
    const e = payload as { phase: string; reason?: string; message?: string; at: string };
    const reason = e.reason ? ` (${e.reason})` : "";
    io.out(`${e.at} ${e.phase}${reason}${e.message ? ` — ${e.message}` : ""}\n`);
  };
  const runner = new LocalJobCluster({
    logDir: dir,
    logger: createLogger({ service: "cli", level: "silent" }),
    publish,
  });
  const stopped = io.interrupt?.() ?? new AbortController().signal;
  const { numNodes, procsPerNode } = manifest.spec;
  const nodes = `${numNodes} node${numNodes === 1 ? "" : "s"}`;
  const procs = `${procsPerNode} process${procsPerNode === 1 ? "" : "es"}`;
  io.out(
    `Running ${namespace}/${name} here: ${nodes} × ${procs}; logs in ${path.join(dir, namespace, name)}\n`,
  );
  try {
    await runner.create(manifest, namespace, "local");
    const phase = await untilEnded(() => runner.status(namespace, name), stopped);
    if (phase === "Failed") {
      const logs = await runner.logs(namespace, name, { tailLines: 20 });
      for (const n of logs.filter((l) => l.text)) io.err(prefixed(n.text, `[node ${n.node}] `).trimEnd());
      throw new CliError(`${namespace}/${name} failed`, 1);
    }
    if (phase === undefined) throw new CliError(`${namespace}/${name} stopped: its processes are ended`, 130);
    if (phase !== "Succeeded") throw new CliError(`${namespace}/${name} ended without succeeding`, 1);
  } finally {
    await runner.close();
  }
}

/** The job's last phase once it ends or is gone; undefined when the command is stopped first. */
async function untilEnded(
  read: () => Promise<{ phase?: string } | undefined>,
  stopped: AbortSignal,
): Promise<string | undefined> {
  while (!stopped.aborted) {
    const status = await read();
    if (!status || status.phase === "Succeeded" || status.phase === "Failed") return status?.phase ?? "Gone";
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}
