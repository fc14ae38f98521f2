import { parseRegistry } from "./load.js";

describe("registry files", () => {
  it("reads YAML with llama and upstream models, resolving keys from the environment", () => {
    const models = parseRegistry(
      `
models:
  - id: tiny
    path: /models/tiny.gguf
    quantization: Q8_0
    sequences: 8
    idleUnloadSeconds: 300
  - id: big
    engine: openai-compatible
    deployments:
      - url: http://vllm-a:8000/v1/
        apiKeyEnv: VLLM_KEY
      - url: http://vllm-b:8000/v1
        model: meta-llama/Llama-3.1-8B-Instruct
`,
      "models.yaml",
      { VLLM_KEY: "secret" },
    );
    expect(models).toEqual([
      expect.objectContaining({
        id: "tiny",
        engine: "llama",
        quantization: "Q8_0",
        sequences: 8,
        idleUnloadSeconds: 300,
      }),
      expect.objectContaining({
        id: "big",
        engine: "openai-compatible",
        deployments: [
          { url: "http://vllm-a:8000/v1", apiKeyEnv: "VLLM_KEY", apiKey: "secret" },
          { url: "http://vllm-b:8000/v1", model: "meta-llama/Llama-3.1-8B-Instruct" },
        ],
      }),
    ]);
  });

  it("reads JSON", () => {
    expect(parseRegistry('{"models":[{"id":"m","path":"/m.gguf"}]}', "m.json", {})).toHaveLength(1);
  });

  it.each([
    ["models: [", "not valid YAML"],
    ["models:\n  - id: a\n    path: /a\n  - id: a\n    path: /b\n", "duplicate id a"],
    ["models:\n  - id: a\n", "path"],
    [
      "models:\n  - id: u\n    engine: openai-compatible\n    deployments:\n      - url: http://x/v1\n        apiKeyEnv: MISSING\n",
      "MISSING",
    ],
  ])("names the problem in %j", (text, message) => {
    expect(() => parseRegistry(text, "models.yaml", {})).toThrow(message);
  });
});
