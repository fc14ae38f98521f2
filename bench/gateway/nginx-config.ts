import path from "node:path";

export interface NginxConfigOptions {
  /** Absolute directory holding everything nginx writes: pid, logs, temp files. */
  dir: string;
  /** Loopback port nginx listens on. */
  port: number;
  /** The upstream's HTTP endpoint, host:port, reached over kept-alive HTTP/1.1 connections. */
  upstream: string;
  workers: number;
  /** Idle upstream connections each worker keeps open. */
  keepalive: number;
  /** Set when the master runs as root, so workers can enter `dir` (mkdtemp makes it 0700). */
  user?: string;
}

// nginx closes a kept-alive connection after this many requests (1000 by default); a benchmark's
// connections should last the run, as the gateway's and the clients' do.
const REQUESTS_PER_CONNECTION = 1_000_000;

/**
 * A complete nginx.conf for a plain reverse proxy: every path passed to one upstream, no caching,
 * one access-log line per request (as Debian's default configuration writes, and the gateway logs
 * each request too). Every path nginx writes lies under `dir`: nothing in /var, /run or /etc.
 */
export function nginxConfig(o: NginxConfigOptions): string {
  if (!path.isAbsolute(o.dir)) throw new Error(`nginx directory must be absolute, got ${o.dir}`);
  if (!/^[^\s;{}]+:\d+$/.test(o.upstream)) throw new Error(`upstream must be host:port, got ${o.upstream}`);
  const at = (name: string) => quote(path.join(o.dir, name));
  return [
    ...(o.user ? [`user ${o.user};`] : []),
    `worker_processes ${o.workers};`,
    `pid ${at("nginx.pid")};`,
    `error_log ${at("error.log")} warn;`,
    "",
    "events {",
    "  worker_connections 4096;",
    "}",
    "",
    "http {",
    `  access_log ${at("access.log")};`,
    `  client_body_temp_path ${at("client_body")};`,
    `  proxy_temp_path ${at("proxy")};`,
    `  fastcgi_temp_path ${at("fastcgi")};`,
    `  uwsgi_temp_path ${at("uwsgi")};`,
    `  scgi_temp_path ${at("scgi")};`,
    `  keepalive_requests ${REQUESTS_PER_CONNECTION};`,
    "",
    "  upstream sloughgpt {",
    `    server ${o.upstream};`,
    `    keepalive ${o.keepalive};`,
    `    keepalive_requests ${REQUESTS_PER_CONNECTION};`,
    "  }",
    "",
    "  server {",
    `    listen 127.0.0.1:${o.port};`,
    "    location / {",
    "      proxy_pass http://sloughgpt;",
    "      proxy_http_version 1.1;",
    '      proxy_set_header Connection "";',
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** nginx's own quoting: double quotes, with backslash escapes for `"` and `\`. */
function quote(s: string): string {
  return `"${s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
