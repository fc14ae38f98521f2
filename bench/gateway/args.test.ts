import { describe, expect, it } from "@jest/globals";
import { parseGatewayBenchArgs, UsageError } from "./args.js";

describe("parseGatewayBenchArgs", () => {
  it("defaults to 5 rounds of 400 requests at 1, 8 and 32 clients, one nginx worker, a created key", () => {
    expect(parseGatewayBenchArgs([])).toEqual({
      mode: "gateway",
      requests: 400,
      rounds: 5,
      concurrency: [1, 8, 32],
      maxTokens: 16,
      nginxWorkers: 1,
      adminKeyOnly: false,
    });
  });

  it("shrinks the run with --quick, explicit flags still winning", () => {
    expect(parseGatewayBenchArgs(["--quick", "--requests", "50"])).toMatchObject({
      rounds: 1,
      concurrency: [1, 8],
      requests: 50,
    });
  });

  it("takes the bootstrap admin key only when asked", () => {
    expect(parseGatewayBenchArgs(["--admin-key-only"])).toMatchObject({ adminKeyOnly: true });
  });

  it("sorts and deduplicates concurrency levels and reads the other integers", () => {
    expect(
      parseGatewayBenchArgs(["--concurrency", "16,8,1,8", "--nginx-workers", "2", "--max-tokens", "4"]),
    ).toMatchObject({ concurrency: [1, 8, 16], nginxWorkers: 2, maxTokens: 4 });
  });

  it("answers --help and -h before validating anything else", () => {
    expect(parseGatewayBenchArgs(["--help"])).toEqual({ mode: "help" });
    expect(parseGatewayBenchArgs(["-h", "--rounds", "0"])).toEqual({ mode: "help" });
  });

  it.each([
    [["--rounds", "0"], "--rounds must be a positive integer, got '0'"],
    [["--requests", "1.5"], "--requests must be a positive integer"],
    [["--requests", "1e3"], "--requests must be a positive integer"],
    [["--concurrency", "1,4"], "--concurrency must include 1 and 8"],
    [["--concurrency", "1,8,x"], "--concurrency must be a positive integer, got 'x'"],
    [["--concurrency", "1,8,1000"], "--concurrency must be at most 256, got 1000"],
    [["--max-tokens", "300"], "--max-tokens must be at most 256"],
    [["--bogus"], "bogus"],
    [["extra"], "extra"],
  ])("refuses %j", (argv, message) => {
    expect(() => parseGatewayBenchArgs(argv)).toThrow(UsageError);
    expect(() => parseGatewayBenchArgs(argv)).toThrow(message);
  });
});
