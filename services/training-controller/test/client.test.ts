import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { apiClient, connectionReuse } from "../src/controller/client.js";

// A plain HTTP server standing in for the API server: it counts TCP connections and records headers.
let server: Server;
let connections = 0;
const seen: IncomingHttpHeaders[] = [];
const kc = new KubeConfig();

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader("content-type", "application/json");
    const body = JSON.stringify({ kind: "PodList", apiVersion: "v1", metadata: {}, items: [] });
    // Requests in namespace "slow" are answered late, to be in flight while the pool closes.
    setTimeout(() => res.end(body), req.url?.includes("/namespaces/slow/") ? 200 : 0);
  });
  server.on("connection", () => connections++);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  kc.loadFromOptions({
    clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t0ken" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
});

afterAll(async () => {
  connectionReuse(kc).close();
  server.closeAllConnections();
  server.close();
});

describe("API server clients", () => {
  test("client-node's own client opens a connection per request", async () => {
    const before = connections;
    const core = kc.makeApiClient(CoreV1Api);
    for (let i = 0; i < 3; i++) await core.listNamespacedPod({ namespace: "ml" });
    expect(connections - before).toBe(3);
  });

  test("clients made with apiClient share one kept-alive connection and keep the kubeconfig's auth", async () => {
    const before = connections;
    seen.length = 0;
    const a = apiClient(kc, CoreV1Api);
    const b = apiClient(kc, CoreV1Api);
    for (let i = 0; i < 3; i++) {
      await a.listNamespacedPod({ namespace: "ml" });
      await b.listNamespacedPod({ namespace: "ml" });
    }
    expect(connections - before).toBe(1);
    expect(connectionReuse(kc).size).toBe(1);
    expect(seen).toHaveLength(6);
    for (const h of seen) expect(h.authorization).toBe("Bearer t0ken");
  });

  test("after close a client opens a new connection", async () => {
    connectionReuse(kc).close();
    const before = connections;
    await apiClient(kc, CoreV1Api).listNamespacedPod({ namespace: "ml" });
    expect(connections - before).toBe(1);
  });

  test("close lets a request in flight finish", async () => {
    const core = apiClient(kc, CoreV1Api);
    await core.listNamespacedPod({ namespace: "ml" });
    const slow = core.listNamespacedPod({ namespace: "slow" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    connectionReuse(kc).close();
    await expect(slow).resolves.toMatchObject({ kind: "PodList" });
  });
});
