import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";

/** Where `login` keeps the gateway URL and key: $SLOUGHGPT_CONFIG, else the XDG config directory. */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.SLOUGHGPT_CONFIG) return env.SLOUGHGPT_CONFIG;
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config");
  return path.join(base, "sloughgpt", "config.json");
}

const stored = z.object({ url: z.url(), apiKey: z.string().min(1) });
export type Credentials = z.infer<typeof stored>;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** The gateway to talk to: SLOUGHGPT_URL / SLOUGHGPT_API_KEY win over the stored login. */
export async function loadCredentials(env: NodeJS.ProcessEnv): Promise<Credentials> {
  const file = configPath(env);
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  let saved: Partial<Credentials> = {};
  if (text !== undefined) {
    const parsed = stored.safeParse(JSON.parse(text));
    if (!parsed.success) throw new CliError(`${file} is not a valid login; run 'sloughgpt login' again`);
    saved = parsed.data;
  }
  const url = env.SLOUGHGPT_URL || saved.url;
  const apiKey = env.SLOUGHGPT_API_KEY || saved.apiKey;
  if (!url || !apiKey) {
    throw new CliError(
      "not logged in: run 'sloughgpt login --url <gateway> --key <key>' or set SLOUGHGPT_URL and SLOUGHGPT_API_KEY",
    );
  }
  return { url: url.replace(/\/+$/, ""), apiKey };
}

/** Saves a login readable by its owner only. */
export async function saveCredentials(env: NodeJS.ProcessEnv, c: Credentials): Promise<string> {
  const file = configPath(env);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(stored.parse(c), null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}
