import { z } from "zod";
import { boolish, ConfigError, parseConfig, port } from "./config.js";

const schema = z.object({ PORT: port(8080), FLAG: boolish(false), NAME: z.string().min(1) });

describe("parseConfig", () => {
  it("applies defaults and coerces values", () => {
    expect(parseConfig(schema, { NAME: "x", FLAG: "yes", PORT: "9000" })).toEqual({
      NAME: "x",
      FLAG: true,
      PORT: 9000,
    });
    expect(parseConfig(schema, { NAME: "x" })).toEqual({ NAME: "x", FLAG: false, PORT: 8080 });
  });

  it("treats an empty variable as unset", () => {
    expect(parseConfig(schema, { NAME: "x", PORT: "" }).PORT).toBe(8080);
  });

  it("names every bad variable", () => {
    try {
      parseConfig(schema, { PORT: "70000", FLAG: "maybe" });
      throw new Error("expected a ConfigError");
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const issues = (err as ConfigError).issues.join("\n");
      expect(issues).toMatch(/^PORT:/m);
      expect(issues).toMatch(/^FLAG:/m);
      expect(issues).toMatch(/^NAME:/m);
    }
  });
});
