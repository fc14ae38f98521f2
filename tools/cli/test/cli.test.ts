import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { type Platform, REPO_ROOT, startPlatform } from "@sloughgpt/testing";

// The CLI as users run it (its bin script, a child process) against a real platform.
jest.setTimeout(120_000);

let platform: Platform;
let home: string;

function cli(args: string[], env: Record<string, string> = {}, stdin?: string) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const p = spawn(process.execPath, [path.join(REPO_ROOT, "tools/cli/bin/sloughgpt.js"), ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", SLOUGHGPT_CONFIG: path.join(home, "config.json"), ...env },
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.stdin.end(stdin ?? "");
    p.on("exit", (code) => resolve({ code, out, err }));
  });
}

beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), "cli-home-"));
  platform = await startPlatform({ postgresAdminUrl: null });
});

afterAll(async () => {
  await platform?.stop();
  await rm(home, { recursive: true, force: true });
});

describe("sloughgpt", () => {
  it("refuses a wrong key at login with the gateway's message and saves nothing", async () => {
    const r = await cli(["login", "--url", platform.gatewayUrl, "--key", "sk-sg-wrong-key-000000"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Incorrect API key provided \(invalid_api_key\)/);
    const after = await cli(["models"]);
    expect(after.err).toMatch(/not logged in/);
  });

  it("logs in, lists models, and streams a chat answer", async () => {
    const login = await cli(["login", "--url", platform.gatewayUrl, "--key", platform.adminKey]);
    expect(login.code).toBe(0);
    const models = await cli(["models", "--json"]);
    expect(models.code).toBe(0);
    expect((JSON.parse(models.out) as { id: string }[]).map((m) => m.id)).toContain(platform.modelId);
    const table = await cli(["models"]);
    expect(table.out.split("\n")[0]).toMatch(/^id\s+owned_by\s+created$/);

    const chat = await cli(["chat", "--max-tokens", "8", "Tell me a story"]);
    expect(chat.code).toBe(0);
    const whole = await cli(["chat", "--max-tokens", "8", "--json", "Tell me a story"]);
    const content = (JSON.parse(whole.out) as { choices: { message: { content: string } }[] }).choices[0]
      ?.message.content;
    expect(chat.out).toBe(`${content}\n`);
    // The prompt can come from standard input.
    const piped = await cli(["chat", "--max-tokens", "8"], {}, "Tell me a story\n");
    expect(piped.out).toBe(chat.out);
  });

  it("prints the gateway's error as JSON with --json and exits 1", async () => {
    const r = await cli(["chat", "-m", "no-such-model", "--json", "hi"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.err)).toMatchObject({ error: { code: "model_not_found" } });
  });
});
