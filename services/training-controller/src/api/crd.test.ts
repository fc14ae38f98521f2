import { readFileSync } from "node:fs";
import path from "node:path";
import { CRD_FILE, openApiSchema, renderCrdYaml } from "./crd.js";
import { trainingJobSpec } from "./types.js";

const root = path.resolve(import.meta.dirname, "../../../..");

describe("TrainingJob CRD generation", () => {
  test.each(["k8s/crds", "charts/sloughgpt/crds"])(
    "%s holds the CRD generated from types.ts (run `pnpm --filter @sloughgpt/training-controller crd:gen`)",
    (dir) => {
      expect(readFileSync(path.join(root, dir, CRD_FILE), "utf8")).toBe(renderCrdYaml());
    },
  );

  const spec = openApiSchema(trainingJobSpec) as {
    required: string[];
    properties: Record<string, Record<string, unknown>>;
  };

  test("numNodes and procsPerNode are int32 of at least 1, defaulting to 1", () => {
    for (const field of ["numNodes", "procsPerNode"]) {
      expect(spec.properties[field]).toMatchObject({
        type: "integer",
        format: "int32",
        minimum: 1,
        default: 1,
      });
    }
  });

  test("resource quantities are int-or-string and never negative", () => {
    const limits = spec.properties.resourcesPerNode!.properties as Record<string, Record<string, unknown>>;
    const quantity = limits.limits!.additionalProperties as Record<string, unknown>;
    expect(quantity).toMatchObject({
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
      minimum: 0,
    });
    const pattern = new RegExp(quantity.pattern as string);
    expect(["4", "500m", "1Gi", "+2"].filter((q) => !pattern.test(q))).toEqual([]);
    expect(["-1", "-500m", "lots"].filter((q) => pattern.test(q))).toEqual([]);
  });

  test("only image is required; defaulted fields are not", () => {
    expect(spec.required).toEqual(["image"]);
  });

  test("schemas carry no JSON Schema keywords the apiserver refuses", () => {
    const text = renderCrdYaml();
    for (const keyword of ["$schema", "propertyNames", "additionalProperties: {}", "9007199254740991"]) {
      expect(text).not.toContain(keyword);
    }
  });
});
