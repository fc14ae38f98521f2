import { jest } from "@jest/globals";
import { type Platform, startPlatform } from "@sloughgpt/testing";
import { call } from "./helpers.js";

jest.setTimeout(120_000);

let platform: Platform;
const keys: Record<"a" | "b", string> = { a: "", b: "" };

const api = (who: "a" | "b" | "admin", path: string, opts: { method?: string; json?: unknown } = {}) =>
  call(platform.gatewayUrl, path, { key: who === "admin" ? platform.adminKey : keys[who], ...opts });

const MANIFEST = {
  apiVersion: "sloughgpt.io/v1alpha1",
  kind: "TrainingJob",
  metadata: { name: "team-a-finetune" },
  spec: { image: "trainer:1", numNodes: 1 },
};

// The whole platform: keys issued through the gateway, RAG and training behind it on Postgres.
beforeAll(async () => {
  platform = await startPlatform();
  for (const team of ["a", "b"] as const) {
    const res = await call<{ key: string }>(platform.gatewayUrl, "/v1/admin/keys", {
      key: platform.adminKey,
      json: { name: `team-${team}`, team: `team-${team}`, role: "ml-engineer" },
    });
    expect(res.status).toBe(201);
    keys[team] = res.body.key;
  }
  expect((await api("a", "/v1/rag/collections", { json: { name: "secrets" } })).status).toBe(201);
  expect((await api("a", "/v1/training/jobs", { json: MANIFEST })).status).toBe(201);
});

afterAll(async () => {
  await platform?.stop();
});

describe("tenancy: a team's key sees only its team's data", () => {
  it("lets team A see its own collection and job", async () => {
    expect((await api("a", "/v1/rag/collections", { json: { name: "secrets" } })).status).toBe(409);
    expect((await api("a", "/v1/training/jobs/team-a-finetune")).status).toBe(200);
    const list = await api("a", "/v1/training/jobs");
    expect((list.body as { data: { name: string }[] }).data.map((j) => j.name)).toEqual(["team-a-finetune"]);
  });

  it("never shows team B team A's RAG collection", async () => {
    const search = await api("b", "/v1/rag/collections/secrets/search", { json: { query: "launch code" } });
    expect(search.status).toBe(404);
    const write = await api("b", "/v1/rag/collections/secrets/documents", {
      json: { documents: [{ id: "x", text: "planted" }] },
    });
    expect(write.status).toBe(404);
    // B may create a collection of the same name: its own, separate one.
    expect((await api("b", "/v1/rag/collections", { json: { name: "secrets" } })).status).toBe(201);
  });

  it("never shows team B team A's training job", async () => {
    expect((await api("b", "/v1/training/jobs/team-a-finetune")).status).toBe(404);
    const list = await api("b", "/v1/training/jobs");
    expect((list.body as { data: unknown[] }).data).toEqual([]);
  });

  it("keeps the admin in its own team on data routes: acting for a team takes a key of that team", async () => {
    expect((await api("admin", "/v1/training/jobs/team-a-finetune")).status).toBe(404);
    const search = await api("admin", "/v1/rag/collections/secrets/search", { json: { query: "launch" } });
    expect(search.status).toBe(404);
    // The admin routes, by contrast, see every team.
    const listed = await api("admin", "/v1/admin/keys");
    const teams = (listed.body as { data: { team: string }[] }).data.map((k) => k.team);
    expect(teams).toEqual(expect.arrayContaining(["team-a", "team-b"]));
  });
});
