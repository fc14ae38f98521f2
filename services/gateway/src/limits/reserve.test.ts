import { createLogger } from "@sloughgpt/runtime";
import { Counters } from "./counters.js";
import { MemoryStore } from "./memory-store.js";
import { counterKey, reserveAll } from "./reserve.js";
import type { CounterStore } from "./store.js";
import type { Scope } from "./types.js";
import { windowAt } from "./window.js";

// reserveAll over this replica's own counters (the fail-open store); the shared ones are tested in
// test/limits.test.ts against NATS.
const logger = createLogger({ service: "test", level: "silent" });
const window = windowAt(Date.UTC(2030, 0, 1, 0, 0, 30));

function setup() {
  const store = new MemoryStore(120_000);
  let writes = 0;
  const counting: CounterStore = {
    read: (k) => store.read(k),
    write: (k, u, r) => {
      writes++;
      return store.write(k, u, r);
    },
  };
  const counters = new Counters(counting);
  const claim = (scopes: Scope[], estimatedTokens = 0) =>
    reserveAll(counters, { scopes, estimatedTokens, window }, logger);
  const usage = async (s: Scope) => (await store.read(counterKey(s, window.id))).usage;
  return { claim, usage, writes: () => writes };
}

describe("reserveAll", () => {
  it("admits a request only if every scope admits it, and then counts it in each", async () => {
    const { claim, usage } = setup();
    const key: Scope = { kind: "key", id: "k", rpm: 5, tpm: 100 };
    const team: Scope = { kind: "team", id: "t", rpm: 10 };
    const outcome = await claim([key, team], 40);
    expect(outcome).toEqual({
      ok: true,
      states: [
        { scope: key, usage: { requests: 1, tokens: 40 } },
        // The team limits no tokens, so none are counted against it.
        { scope: team, usage: { requests: 1, tokens: 0 } },
      ],
    });
    expect(await usage(key)).toEqual({ requests: 1, tokens: 40 });
  });

  it("takes nothing from the other scopes when one refuses", async () => {
    const { claim, usage } = setup();
    const key: Scope = { kind: "key", id: "k", rpm: 5 };
    const team: Scope = { kind: "team", id: "t", rpm: 1 };
    await claim([key, team]);
    const refused = await claim([key, team]);
    expect(refused).toMatchObject({ ok: false, refused: team, limit: "requests" });
    expect(await usage(key)).toEqual({ requests: 1, tokens: 0 });
    expect(await usage(team)).toEqual({ requests: 1, tokens: 0 });
  });

  it("confirms a refusal it expects with a read, writing nothing", async () => {
    const { claim, writes } = setup();
    const key: Scope = { kind: "key", id: "k", rpm: 100 };
    const team: Scope = { kind: "team", id: "t", tpm: 50 };
    await claim([key, team], 50);
    const before = writes();
    expect(await claim([key, team], 10)).toMatchObject({ ok: false, refused: team, limit: "tokens" });
    expect(writes()).toBe(before);
  });

  it("reports the first refusing scope in the order given", async () => {
    const { claim } = setup();
    const key: Scope = { kind: "key", id: "k", rpm: 0 };
    const team: Scope = { kind: "team", id: "t", rpm: 0 };
    expect(await claim([team, key])).toMatchObject({ ok: false, refused: team });
  });

  it("keeps scopes with the same id but different kinds apart, whatever characters the id has", () => {
    expect(counterKey({ kind: "key", id: "a.b c/é" }, 7)).toMatch(/^key\.[-\w]+\.7$/);
    expect(counterKey({ kind: "key", id: "x" }, 7)).not.toBe(counterKey({ kind: "team", id: "x" }, 7));
  });
});
