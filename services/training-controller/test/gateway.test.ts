import { jest } from "@jest/globals";
import { type Platform, startPlatform } from "@sloughgpt/testing";

// The training routes end to end: the gateway (RBAC, team tenancy) → TrainingService over gRPC → the
// job store, with the platform's default backend (jobs recorded, no cluster).
jest.setTimeout(120_000);

let platform: Platform;
const keys: Record<string, string> = {};

async function api(who: string, path: string, init: { method?: string; body?: string; type?: string } = {}) {
  const res = await fetch(`${platform.gatewayUrl}${path}`, {
    method: init.method ?? "GET",
    headers: {
      authorization: `Bearer ${who === "admin" ? platform.adminKey : keys[who]}`,
      ...(init.body !== undefined ? { "content-type": init.type ?? "application/json" } : {}),
    },
    body: init.body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  platform = await startPlatform({ postgresAdminUrl: null });
  for (const [name, team, role] of [
    ["engineer", "ml", "ml-engineer"],
    ["viewer", "ml", "viewer"],
    ["other", "sales", "ml-engineer"],
  ] as const) {
    const res = await api("admin", "/v1/admin/keys", {
      method: "POST",
      body: JSON.stringify({ name, team, role }),
    });
    expect(res.status).toBe(201);
    keys[name] = res.body.key as string;
  }
});

afterAll(() => platform?.stop());

describe("gateway training routes", () => {
  test("submit YAML, suspend, resume and delete a job; other teams and viewers cannot touch it", async () => {
    const manifest =
      "apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata:\n  name: ctl\nspec:\n  image: trainer:1\n";
    const created = await api("engineer", "/v1/training/jobs", {
      method: "POST",
      body: manifest,
      type: "application/yaml",
    });
    expect(created).toMatchObject({ status: 201, body: { name: "ctl", phase: "Queued", status: {} } });

    expect((await api("viewer", "/v1/training/jobs/ctl:suspend", { method: "POST" })).status).toBe(403);
    expect((await api("other", "/v1/training/jobs/ctl:suspend", { method: "POST" })).status).toBe(404);
    const suspended = await api("engineer", "/v1/training/jobs/ctl:suspend", { method: "POST" });
    expect(suspended.body).toMatchObject({ phase: "Suspended", manifest: { spec: { suspend: true } } });
    const resumed = await api("engineer", "/v1/training/jobs/ctl:resume", { method: "POST" });
    expect(resumed.body).toMatchObject({ phase: "Queued", manifest: { spec: { suspend: false } } });
    expect((await api("engineer", "/v1/training/jobs/ctl:restart", { method: "POST" })).status).toBe(400);

    // The default backend only records jobs: nothing runs them, so there are no logs to read.
    const logs = await api("viewer", "/v1/training/jobs/ctl/logs");
    expect(logs).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/no logs/) } },
    });
    expect((await api("engineer", "/v1/training/jobs/ctl/logs?tail=0")).status).toBe(400);
    expect((await api("other", "/v1/training/jobs/ctl/logs")).status).toBe(404);

    expect((await api("viewer", "/v1/training/jobs/ctl", { method: "DELETE" })).status).toBe(403);
    expect((await api("other", "/v1/training/jobs/ctl", { method: "DELETE" })).status).toBe(404);
    const deleted = await api("engineer", "/v1/training/jobs/ctl", { method: "DELETE" });
    expect(deleted).toMatchObject({ status: 200, body: { name: "ctl", deleted: true } });
    expect((await api("engineer", "/v1/training/jobs/ctl")).status).toBe(404);
  });
});
