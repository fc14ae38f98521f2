import { parseConfig } from "@sloughgpt/runtime";
import { configSchema } from "./config.js";

const base = { MODEL_PATH: "/m.gguf" };

describe("serving config: the OpenAI-compatible HTTP API", () => {
  it("is off unless SERVING_API_PORT is set, and needs no key", () => {
    const c = parseConfig(configSchema, base);
    expect(c.SERVING_API_PORT).toBeUndefined();
    expect(c.SERVING_API_KEY).toBeUndefined();
    expect(c.SERVING_API_BODY_LIMIT_BYTES).toBe(4 * 1024 * 1024);
  });

  it("reads the port and the key", () => {
    const c = parseConfig(configSchema, { ...base, SERVING_API_PORT: "8000", SERVING_API_KEY: "k" });
    expect(c).toMatchObject({ SERVING_API_PORT: 8000, SERVING_API_KEY: "k" });
  });

  it("names a bad port", () => {
    expect(parseConfig(configSchema, { ...base, SERVING_API_PORT: "0" }).SERVING_API_PORT).toBeUndefined();
    expect(() => parseConfig(configSchema, { ...base, SERVING_API_PORT: "70000" })).toThrow(
      /SERVING_API_PORT/,
    );
  });
});
