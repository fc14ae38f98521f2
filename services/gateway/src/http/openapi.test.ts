import { testApp } from "../test-app.js";
import { openApiPath } from "./openapi.js";

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        "x-permission": string;
        summary: string;
        parameters: { name: string; in: string; required: boolean }[];
        requestBody?: {
          content: { "application/json": { schema: { properties: Record<string, unknown> } } };
        };
      }
    >
  >;
};

async function withApp<T>(
  fn: (base: string, routes: readonly { method: string; url: string }[]) => Promise<T>,
) {
  const app = testApp();
  const base = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    return await fn(base, app.routePermissions);
  } finally {
    await app.close();
  }
}

describe("openApiPath", () => {
  it.each([
    ["/v1/models", "/v1/models", []],
    ["/v1/admin/keys/:id", "/v1/admin/keys/{id}", ["id"]],
    ["/v1/admin/models/*", "/v1/admin/models/{path}", ["path"]],
  ])("%s → %s", (url, path, params) => expect(openApiPath(url)).toEqual({ path, params }));
});

describe("GET /openapi.json", () => {
  it("describes every route the gateway serves, without a key", async () => {
    await withApp(async (base, routes) => {
      const res = await fetch(`${base}/openapi.json`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Doc;
      expect(doc.openapi).toBe("3.1.0");
      const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      );
      const served = routes
        .filter((r) => r.method !== "HEAD")
        .map((r) => `${r.method} ${openApiPath(r.url).path}`);
      expect(described.sort()).toEqual([...new Set(served)].sort());
      expect(served.length).toBeGreaterThan(15);
    });
  });

  it("takes bodies and queries from the schemas the handlers parse", async () => {
    await withApp(async (base) => {
      const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Doc;
      const chat = doc.paths["/v1/chat/completions"]?.post;
      expect(chat?.["x-permission"]).toBe("chat:create");
      const body = chat?.requestBody?.content["application/json"].schema;
      expect(Object.keys(body?.properties ?? {})).toEqual(
        expect.arrayContaining(["model", "messages", "max_tokens", "stream", "response_format"]),
      );
      const usage = doc.paths["/v1/usage"]?.get;
      expect(usage?.parameters.map((p) => p.name)).toEqual(
        expect.arrayContaining(["group_by", "from", "to", "team", "key_id", "model", "limit"]),
      );
      const revoke = doc.paths["/v1/models/{id}"]?.get;
      expect(revoke?.parameters).toContainEqual(
        expect.objectContaining({ name: "id", in: "path", required: true }),
      );
    });
  });

  it("serves a viewer at /docs without a key, and still guards the API", async () => {
    await withApp(async (base) => {
      const docs = await fetch(`${base}/docs`);
      expect(docs.status).toBe(200);
      expect(docs.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await docs.text()).toContain('fetch("openapi.json")');
      expect((await fetch(`${base}/v1/models`)).status).toBe(401);
    });
  });
});
