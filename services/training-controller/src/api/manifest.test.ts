import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { InvalidArgumentError } from "@sloughgpt/runtime";
import { parseManifest } from "./manifest.js";

const root = path.resolve(import.meta.dirname, "../../../..");

describe("parseManifest", () => {
  it("accepts the example job and fills defaults", () => {
    const job = parseManifest(readFileSync(path.join(root, "k8s/examples/trainingjob-tiny.yaml"), "utf8"));
    expect(job.kind).toBe("TrainingJob");
    expect(job.spec.numNodes).toBeGreaterThanOrEqual(1);
    expect(job.spec.procsPerNode).toBeGreaterThanOrEqual(1);
  });

  it.each(readdirSync(path.join(root, "k8s/examples")))(
    "accepts every TrainingJob in k8s/examples/%s",
    (file) => {
      const docs = readFileSync(path.join(root, "k8s/examples", file), "utf8").split(/^---$/m);
      const jobs = docs.filter((d) => /^kind: TrainingJob$/m.test(d)).map(parseManifest);
      expect(jobs.length).toBeGreaterThan(0);
      for (const job of jobs) expect(job.spec.failurePolicy.maxRestarts).toBeGreaterThanOrEqual(0);
    },
  );

  it("accepts JSON", () => {
    const job = parseManifest(
      JSON.stringify({
        apiVersion: "sloughgpt.io/v1alpha1",
        kind: "TrainingJob",
        metadata: { name: "j" },
        spec: { image: "x" },
      }),
    );
    expect(job.spec).toMatchObject({
      image: "x",
      numNodes: 1,
      procsPerNode: 1,
      suspend: false,
      failurePolicy: { maxRestarts: 3, backoffSeconds: 10 },
    });
  });

  it.each([
    ["not yaml: [", "manifest"],
    ["kind: Pod", "apiVersion"],
    [
      "apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata: {name: Bad_Name}\nspec: {image: x}",
      "metadata.name",
    ],
    ["apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\nspec: {}", "spec.image"],
    [
      "apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\nspec: {image: x, numNodes: 0}",
      "spec.numNodes",
    ],
    [
      "apiVersion: sloughgpt.io/v1alpha1\nkind: TrainingJob\nmetadata: {name: a}\nspec: {image: x, resourcesPerNode: {limits: {nvidia.com/gpu: -1}}}",
      "spec.resourcesPerNode.limits.nvidia.com/gpu",
    ],
  ])("rejects %j naming %s", (text, param) => {
    try {
      parseManifest(text);
      throw new Error("expected a rejection");
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).param).toBe(param);
    }
  });
});
