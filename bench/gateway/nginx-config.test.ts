import { describe, expect, it } from "@jest/globals";
import { nginxConfig } from "./nginx-config.js";

const base = { dir: "/tmp/bench x", port: 8099, upstream: "127.0.0.1:4001", workers: 1, keepalive: 64 };

/** Every absolute path the config names, quoted or not. */
const pathsIn = (conf: string) => [...conf.matchAll(/"(\/[^"]*)"|\s(\/\S+);/g)].map((m) => m[1] ?? m[2]);

describe("nginxConfig", () => {
  const conf = nginxConfig(base);

  it("proxies everything on the loopback port to the upstream over kept-alive HTTP/1.1", () => {
    expect(conf).toContain("listen 127.0.0.1:8099;");
    expect(conf).toMatch(/upstream sloughgpt \{\s+server 127\.0\.0\.1:4001;\s+keepalive 64;/);
    expect(conf).toContain("proxy_pass http://sloughgpt;");
    expect(conf).toContain("proxy_http_version 1.1;");
    // Without clearing it, nginx sends "Connection: close" upstream and keepalive does nothing.
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(conf).toContain("worker_processes 1;");
  });

  it("writes pid, logs and every temp path inside its directory, quoted", () => {
    const paths = pathsIn(conf);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/tmp/bench x/nginx.pid",
        "/tmp/bench x/error.log",
        "/tmp/bench x/access.log",
        "/tmp/bench x/client_body",
        "/tmp/bench x/proxy",
        "/tmp/bench x/fastcgi",
        "/tmp/bench x/uwsgi",
        "/tmp/bench x/scgi",
      ]),
    );
    expect(paths.filter((p) => !p?.startsWith("/tmp/bench x/"))).toEqual([]);
  });

  it("keeps connections for the whole run instead of nginx's default 1000 requests", () => {
    expect(conf.match(/keepalive_requests 1000000;/g)).toHaveLength(2);
  });

  it("names a user only when given one, and the worker count as given", () => {
    expect(conf).not.toContain("user ");
    const asRoot = nginxConfig({ ...base, user: "root", workers: 2 });
    expect(asRoot.split("\n")[0]).toBe("user root;");
    expect(asRoot).toContain("worker_processes 2;");
  });

  it("escapes quotes and backslashes in the directory", () => {
    expect(nginxConfig({ ...base, dir: '/tmp/a"b\\c' })).toContain('pid "/tmp/a\\"b\\\\c/nginx.pid";');
  });

  it.each([
    [{ dir: "relative" }, "nginx directory must be absolute"],
    [{ upstream: "127.0.0.1" }, "upstream must be host:port"],
    [{ upstream: "a:1; evil" }, "upstream must be host:port"],
  ])("refuses %j", (over, message) => {
    expect(() => nginxConfig({ ...base, ...over })).toThrow(message);
  });
});
