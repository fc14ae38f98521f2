import { describe, expect, it } from "@jest/globals";
import { parseBenchArgs, UsageError } from "./args.js";

describe("parseBenchArgs", () => {
  it("defaults to q8_0, 16 sequences, 8 rounds at concurrency 1, 4, 8 and 16, unpinned", () => {
    expect(parseBenchArgs([], {})).toEqual({
      mode: "serving",
      type: "q8_0",
      threads: 1,
      sequences: 16,
      contextSize: 1024,
      maxTokens: 64,
      requests: 16,
      rounds: 8,
      concurrency: [1, 4, 8, 16],
      pin: false,
    });
  });

  it("takes threads from LLAMA_THREADS unless --threads is given", () => {
    expect(parseBenchArgs([], { LLAMA_THREADS: "2" })).toMatchObject({ threads: 2 });
    expect(parseBenchArgs(["--threads", "3"], { LLAMA_THREADS: "2" })).toMatchObject({ threads: 3 });
  });

  it("shrinks the run with --quick, explicit flags still winning", () => {
    expect(parseBenchArgs(["--quick", "--max-tokens", "8"], {})).toMatchObject({
      rounds: 1,
      concurrency: [1, 8],
      maxTokens: 8,
      requests: 8,
    });
  });

  it("pins with --pin", () => {
    expect(parseBenchArgs(["--pin"], {})).toMatchObject({ pin: true });
  });

  it("leaves serving's stream interval alone unless --stream-interval is given, 0 included", () => {
    expect(parseBenchArgs([], {})).not.toHaveProperty("streamIntervalMs");
    expect(parseBenchArgs(["--stream-interval", "0"], {})).toMatchObject({ streamIntervalMs: 0 });
    expect(parseBenchArgs(["--stream-interval", "50"], {})).toMatchObject({ streamIntervalMs: 50 });
    for (const bad of ["1.5", "2000", "soon"]) {
      expect(() => parseBenchArgs(["--stream-interval", bad], {})).toThrow(
        "--stream-interval must be an integer from 0 to 1000",
      );
    }
  });

  it("passes the weight type through and sorts concurrency levels", () => {
    expect(parseBenchArgs(["--type", "q4_0", "--concurrency", "8,2,1,8"], {})).toMatchObject({
      type: "q4_0",
      concurrency: [1, 2, 8],
    });
  });

  it.each([
    [["--threads", "0"], {}, "--threads must be a positive integer, got '0'"],
    [["--rounds", "1.5"], {}, "--rounds must be a positive integer"],
    [["--concurrency", "1,4"], {}, "--concurrency must include 1 and 8"],
    [["--concurrency", "1,8,32"], {}, "--concurrency 32 exceeds --sequences 16"],
    [["--max-tokens", "1000"], {}, "--max-tokens 1000 leaves no room for the prompt in --context 1024"],
    [[], { LLAMA_THREADS: "many" }, "LLAMA_THREADS must be an integer"],
    [["--bogus"], {}, "bogus"],
  ])("refuses %j %j", (argv, env, message) => {
    expect(() => parseBenchArgs(argv, env)).toThrow(UsageError);
    expect(() => parseBenchArgs(argv, env)).toThrow(message);
  });

  it("compares weight types with --quantizations: 5 rounds of 4 requests of 128 tokens, 512-token prompt", () => {
    expect(parseBenchArgs(["--quantizations"], { LLAMA_THREADS: "2" })).toEqual({
      mode: "quantizations",
      threads: 2,
      contextSize: 1024,
      maxTokens: 128,
      requests: 4,
      rounds: 5,
      promptTokens: 512,
    });
  });

  it("shrinks --quantizations with --quick and takes the flags that apply to it", () => {
    expect(parseBenchArgs(["--quantizations", "--quick"], {})).toMatchObject({
      mode: "quantizations",
      rounds: 1,
      requests: 2,
      maxTokens: 32,
    });
    expect(
      parseBenchArgs(
        ["--quantizations", "--threads", "2", "--context", "2048", "--max-tokens", "256", "--rounds", "5"],
        {},
      ),
    ).toMatchObject({ threads: 2, contextSize: 2048, maxTokens: 256, rounds: 5 });
  });

  it.each([
    [["--quantizations", "--pin"], "--pin does not apply to --quantizations"],
    [["--quantizations", "--type", "q4_0"], "--type does not apply to --quantizations"],
    [["--quantizations", "--concurrency", "1,8"], "--concurrency does not apply to --quantizations"],
    [["--quantizations", "--sequences", "4"], "--sequences does not apply to --quantizations"],
    [["--quantizations", "--requests", "0"], "--requests must be a positive integer"],
    [["--quantizations", "--context", "512"], "--context 512 cannot hold the 512-token prompt"],
    [["--quantizations", "--max-tokens", "1000"], "--max-tokens 1000 leaves no room for the prompt"],
  ])("refuses %j", (argv, message) => {
    expect(() => parseBenchArgs(argv, {})).toThrow(UsageError);
    expect(() => parseBenchArgs(argv, {})).toThrow(message);
  });

  it("answers --help without validating the rest", () => {
    expect(parseBenchArgs(["-h"], { LLAMA_THREADS: "x" })).toEqual({ mode: "help" });
  });
});
