import { BENCH_LLAMA_OPTIONS } from "@sloughgpt/gguf";
import { DEFAULT_OUT, parseTinyModelArgs, UsageError } from "./args.js";

describe("parseTinyModelArgs", () => {
  test("defaults to an f16 tiny model at the default path", () => {
    expect(parseTinyModelArgs([])).toEqual({ help: false, out: DEFAULT_OUT, options: { tensorType: "f16" } });
  });

  test("maps every flag to a model option", () => {
    const argv = ["--out", "m.gguf", "--type", "q8_0", "--seed", "7", "--layers", "3", "--embd", "128"];
    argv.push("--ff", "256", "--heads", "8", "--kv-heads", "2", "--ctx", "1024");
    expect(parseTinyModelArgs(argv)).toEqual({
      help: false,
      out: "m.gguf",
      options: {
        tensorType: "q8_0",
        seed: 7,
        blockCount: 3,
        embeddingLength: 128,
        feedForwardLength: 256,
        headCount: 8,
        headCountKv: 2,
        contextLength: 1024,
      },
    });
  });

  test("accepts every weight type", () => {
    for (const type of ["f32", "f16", "q8_0", "q4_0", "q4_k"]) {
      expect(parseTinyModelArgs(["--type", type])).toMatchObject({ options: { tensorType: type } });
    }
  });

  test("builds the benchmark preset with Q4_K matrices", () => {
    expect(parseTinyModelArgs(["--preset", "bench", "--type", "q4_k"])).toMatchObject({
      options: { ...BENCH_LLAMA_OPTIONS, tensorType: "q4_k" },
    });
  });

  test("uses --heads for the KV heads unless --kv-heads is given", () => {
    expect(parseTinyModelArgs(["--heads", "2"])).toMatchObject({ options: { headCount: 2, headCountKv: 2 } });
  });

  test("starts from the benchmark preset", () => {
    expect(parseTinyModelArgs(["--preset", "bench", "--layers", "4"])).toMatchObject({
      options: { ...BENCH_LLAMA_OPTIONS, blockCount: 4 },
    });
  });

  test("asks for help", () => {
    expect(parseTinyModelArgs(["-h"])).toEqual({ help: true });
  });

  test.each([
    [["--type", "q5_0"], /--type/],
    [["--preset", "huge"], /--preset/],
    [["--seed", "-1"], /'-1'|--seed/],
    [["--layers", "two"], /--layers.*'two'/],
    [["--layers", "0"], /blockCount/],
    [["--embd", "100", "--heads", "3"], /multiple of headCount/],
    [["--type", "q8_0", "--ff", "100"], /multiples of 32/],
    [["--type", "q4_0", "--embd", "80", "--heads", "4"], /multiples of 32/],
    [["--type", "q4_k", "--ff", "272"], /multiples of 32/],
    [["--type", "q4_K"], /--type must be one of f32, f16, q8_0, q4_0, q4_k/],
    [["--seed", "4294967296"], /seed/],
    [["--bogus"], /bogus/],
    [["extra"], /extra/],
  ])("rejects %p", (argv, message) => {
    expect(() => parseTinyModelArgs(argv)).toThrow(UsageError);
    expect(() => parseTinyModelArgs(argv)).toThrow(message);
  });
});
