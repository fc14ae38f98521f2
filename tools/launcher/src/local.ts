import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";

/** A free TCP port on loopback (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export class MissingBinaryError extends Error {}

/** Starts a JetStream-enabled nats-server storing under `dataDir`; fails clearly when it isn't installed. */
export async function startNatsServer(opts: {
  bin: string;
  dataDir: string;
  port: number;
}): Promise<ChildProcess> {
  await mkdir(opts.dataDir, { recursive: true });
  const proc = spawn(opts.bin, ["-a", "127.0.0.1", "-p", String(opts.port), "-js", "-sd", opts.dataDir], {
    stdio: ["ignore", "ignore", "pipe"],
    // Own process group, so Ctrl-C doesn't stop NATS before the services have drained.
    detached: true,
  });
  const failed = new Promise<never>((_, reject) => {
    proc.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT"
          ? new MissingBinaryError(
              `'${opts.bin}' was not found. Install NATS (Debian/Ubuntu: 'apt-get install nats-server') or set NATS_URL to a running server.`,
            )
          : err,
      ),
    );
    proc.once("exit", (code) => reject(new Error(`nats-server exited with code ${code}`)));
  });
  await Promise.race([waitForPort(opts.port, 15_000), failed]);
  return proc;
}

/** The configured admin key, or one generated once and kept (mode 0600) in the data dir. */
export async function ensureAdminKey(dataDir: string, configured?: string): Promise<string> {
  if (configured) return configured;
  const file = path.join(dataDir, "admin-key");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const key = `sk-sg-${randomBytes(24).toString("base64url")}`;
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${key}\n`, { mode: 0o600 });
    return key;
  }
}
