import { describe, expect, it } from "@jest/globals";
import { parseBenchArgs, UsageError } from "./args.js";

describe("parseBenchArgs", () => {
  it("defaults to q8_0, 16 sequences, 4 rounds at concurrency 1, 4, 8 and 16, unpinned", () => {
    expect(parseBenchArgs([], {})).toEqual({
      help: false,
      type: "q8_0",
      threads: 1,
      sequences: 16,
      contextSize: 1024,
      maxTokens: 64,
      requests: 16,
      rounds: 4,
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

  it("answers --help without validating the rest", () => {
    expect(parseBenchArgs(["-h"], { LLAMA_THREADS: "x" })).toEqual({ help: true });
  });
});
