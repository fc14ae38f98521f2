import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Io, run } from "./cli.js";
import { configPath, loadCredentials, saveCredentials } from "./config.js";
import { table } from "./format.js";

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const value: Io = { out: (s) => out.push(s), err: (s) => err.push(s), env, stdin: async () => "" };
  return { io: value, out, err };
}

describe("table", () => {
  it("aligns columns and prints missing values as -", () => {
    expect(table([{ id: "a", n: 1 }, { id: "bbb" }], ["id", "n"])).toBe("id   n\na    1\nbbb  -");
  });
});

describe("credentials", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "cli-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lives under XDG_CONFIG_HOME unless SLOUGHGPT_CONFIG names a file", () => {
    expect(configPath({ XDG_CONFIG_HOME: "/x" })).toBe("/x/sloughgpt/config.json");
    expect(configPath({ SLOUGHGPT_CONFIG: "/y.json", XDG_CONFIG_HOME: "/x" })).toBe("/y.json");
  });

  it("saves a login only its owner can read, and the environment overrides it", async () => {
    const env = { SLOUGHGPT_CONFIG: path.join(dir, "c", "config.json") };
    const file = await saveCredentials(env, { url: "http://gw:8080", apiKey: "sk-sg-1" });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ url: "http://gw:8080", apiKey: "sk-sg-1" });
    expect(await loadCredentials(env)).toEqual({ url: "http://gw:8080", apiKey: "sk-sg-1" });
    expect(await loadCredentials({ ...env, SLOUGHGPT_API_KEY: "sk-sg-2" })).toMatchObject({
      apiKey: "sk-sg-2",
    });
  });

  it("says how to log in when there is no login", async () => {
    await expect(loadCredentials({ SLOUGHGPT_CONFIG: path.join(dir, "none.json") })).rejects.toThrow(
      /sloughgpt login/,
    );
  });
});

describe("command lines", () => {
  it.each([
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["models", "--colour"], /Unknown option '--colour'/],
    [["keys", "create", "--name", "x"], /needs --team/],
    [["keys", "rotate"], /create, list or revoke/],
    [["chat", "--max-tokens", "many", "hi"], /--max-tokens must be an integer/],
  ])("refuses %j with exit 2 before any request", async (argv, message) => {
    const { io: i, err } = io({ SLOUGHGPT_URL: "http://127.0.0.1:9", SLOUGHGPT_API_KEY: "k" });
    expect(await run(argv, i)).toBe(2);
    expect(err.join("\n")).toMatch(message);
  });

  it("prints usage for help (exit 0) and for no command (exit 2)", async () => {
    const a = io();
    expect(await run(["help"], a.io)).toBe(0);
    expect(a.out.join("")).toContain("sloughgpt keys create");
    expect(await run([], io().io)).toBe(2);
  });

  it("names the gateway it cannot reach", async () => {
    const { io: i, err } = io({ SLOUGHGPT_URL: "http://127.0.0.1:9", SLOUGHGPT_API_KEY: "k" });
    expect(await run(["models"], i)).toBe(1);
    expect(err.join("")).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});
