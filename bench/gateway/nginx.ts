import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { access, constants, readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { childPids } from "./cpu.js";
import { type NginxConfigOptions, nginxConfig } from "./nginx-config.js";

/** Where Debian and most distributions put the binary, often outside a non-root user's PATH. */
const SBIN = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

export class NginxError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "NginxError";
  }
}

/** The nginx binary on PATH or in an sbin directory; NginxError telling how to install it otherwise. */
export async function findNginx(pathVariable = process.env.PATH ?? "", extraDirs = SBIN): Promise<string> {
  for (const dir of [...pathVariable.split(path.delimiter).filter(Boolean), ...extraDirs]) {
    const candidate = path.join(dir, "nginx");
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new NginxError(
    "nginx not found (on PATH or in /usr/sbin): the benchmark compares the gateway with nginx proxy_pass.\n" +
      "Install it with `sudo apt-get install -y nginx` (Debian/Ubuntu). The benchmark starts its own nginx\n" +
      "process with its own configuration in a temporary directory; the system's nginx service is not used.",
  );
}

/** "nginx/1.22.1", from `nginx -v` (which prints to stderr). */
export async function nginxVersion(bin: string): Promise<string> {
  const { stderr } = await promisify(execFile)(bin, ["-v"]);
  return stderr.replace(/^nginx version:\s*/, "").trim();
}

export interface Nginx {
  pid: number;
  url: string;
  /** The master and its workers, for CPU accounting. */
  pids(): Promise<number[]>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** Starts nginx in the foreground with its config, pid and logs in `o.dir`; resolves once it accepts connections. */
export async function startNginx(bin: string, o: NginxConfigOptions): Promise<Nginx> {
  const conf = path.join(o.dir, "nginx.conf");
  await writeFile(conf, nginxConfig(o));
  // -e: the error log before the config is read, which otherwise goes to the compiled-in /var/log path.
  const args = ["-p", o.dir, "-c", conf, "-e", path.join(o.dir, "error.log"), "-g", "daemon off;"];
  const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  let ended: string | undefined;
  proc.once("exit", (code, signal) => {
    ended = `exited (${signal ?? `code ${code}`})`;
  });
  proc.once("error", (err) => {
    ended = `could not start: ${err.message}`;
  });
  if (!(await listening(o.port, () => ended !== undefined))) {
    await stopProcess(proc);
    const log = await readFile(path.join(o.dir, "error.log"), "utf8").catch(() => "");
    throw new NginxError(`nginx ${ended ?? "did not listen in time"}:\n${stderr}${log}`);
  }
  return {
    pid: proc.pid as number,
    url: `http://127.0.0.1:${o.port}`,
    pids: async () => [proc.pid as number, ...(await childPids(proc.pid))],
    stop: () => stopProcess(proc),
  };
}

/** True once something accepts connections on the loopback port; false when `gone` or after the timeout. */
async function listening(port: number, gone: () => boolean): Promise<boolean> {
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline && !gone()) {
    if (await connects(port)) return true;
    await sleep(50);
  }
  return false;
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true)).once("error", () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** Graceful quit (SIGQUIT: workers finish their requests), then SIGKILL if it hangs. */
async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const exit = once(proc, "exit");
  proc.kill("SIGQUIT");
  // Unreferenced: once nginx is gone, this timer must not keep the benchmark alive.
  const timer = sleep(STOP_TIMEOUT_MS, "timeout" as const, { ref: false });
  if ((await Promise.race([exit, timer])) === "timeout") {
    proc.kill("SIGKILL");
    await exit;
  }
}
