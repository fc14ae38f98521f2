import { describe, expect, test } from "@jest/globals";
import { InvalidArgumentError } from "@sloughgpt/runtime";
import { type Embedder, embedAll, shorten, tooLongInput } from "./embedder.js";

/** Refuses any input over `limit` characters the way serving refuses one over its context. */
function limited(limit: number, calls: string[][]): Embedder {
  return {
    embed: async (_model, texts) => {
      calls.push(texts);
      const i = texts.findIndex((t) => t.length > limit);
      if (i >= 0)
        throw new InvalidArgumentError(
          `input ${i} has ${texts[i]?.length} tokens; the model's context holds ${limit}`,
          {
            param: `input.${i}`,
            reason: "context_length_exceeded",
          },
        );
      return texts.map((t) => [t.length]);
    },
  };
}

describe("embedAll", () => {
  test("names the team every call is metered to, retries included", async () => {
    const teams: (string | undefined)[] = [];
    let first = true;
    const embedder: Embedder = {
      embed: async (_model, texts, _signal, team) => {
        teams.push(team);
        if (first) {
          first = false;
          throw new InvalidArgumentError("input 0 has 9 tokens; the model's context holds 5", {
            param: "input.0",
            reason: "context_length_exceeded",
          });
        }
        return texts.map(() => [1]);
      },
    };
    await embedAll(embedder, "m", ["a long one", "b"], { batch: 1, team: "research" });
    expect(teams).toEqual(["research", "research", "research"]);
  });

  test("batches in order", async () => {
    const calls: string[][] = [];
    const v = await embedAll(limited(100, calls), "m", ["a", "bb", "ccc"], { batch: 2 });
    expect(v).toEqual([[1], [2], [3]]);
    expect(calls).toEqual([["a", "bb"], ["ccc"]]);
  });

  test("an input over the model's context is embedded by a prefix that fits", async () => {
    const long = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const calls: string[][] = [];
    const [short, cut] = await embedAll(limited(50, calls), "m", ["ok", long]);
    expect(short).toEqual([2]);
    expect(cut?.[0]).toBeLessThanOrEqual(50);
    expect(long.startsWith(calls.at(-1)?.[1] ?? "x")).toBe(true);
  });

  test("other errors are not retried", async () => {
    const failing: Embedder = {
      embed: async () => {
        throw new InvalidArgumentError("model not found", { param: "model" });
      },
    };
    await expect(embedAll(failing, "m", ["a"])).rejects.toThrow("model not found");
  });

  test("parses serving's context error; shortens at word boundaries", () => {
    const err = new InvalidArgumentError("input 3 has 200 tokens; the model's context holds 100", {
      param: "input.3",
      reason: "context_length_exceeded",
    });
    expect(tooLongInput(err)).toEqual({ index: 3, fits: 0.475 });
    expect(tooLongInput(new Error("x"))).toBeUndefined();
    expect(shorten("alpha beta gamma delta", 0.5)).toBe("alpha beta");
    expect(shorten("abcdefghij", 0.3)).toBe("abc");
  });
});

describe("embedAll when the engine fails an input serving let through", () => {
  test("isolates the batch and shortens the failing input", async () => {
    const internal = Object.assign(new Error("internal error"), { code: 13 });
    const calls: string[][] = [];
    const flaky: Embedder = {
      embed: async (_m, texts) => {
        calls.push(texts);
        if (texts.some((t) => t.length > 20)) throw internal;
        return texts.map((t) => [t.length]);
      },
    };
    const long = "one two three four five six seven";
    const v = await embedAll(flaky, "m", ["a", long, "bc"]);
    expect(v.map((x) => x[0])).toEqual([1, expect.any(Number), 2]);
    expect(v[1]?.[0]).toBeLessThanOrEqual(20);
    expect(calls[1]).toEqual(["a"]);
  });
});
