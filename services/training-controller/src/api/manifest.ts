import { InvalidArgumentError } from "@sloughgpt/runtime";
import { parse as parseYaml } from "yaml";
import { ZodError } from "zod";
import { type TrainingJob, trainingJob } from "./types.js";

/** Parses a YAML or JSON TrainingJob manifest; every problem becomes INVALID_ARGUMENT naming the field. */
export function parseManifest(text: string): TrainingJob {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InvalidArgumentError(`manifest is not valid YAML or JSON: ${(err as Error).message}`, {
      param: "manifest",
      cause: err,
    });
  }
  try {
    return trainingJob.parse(doc);
  } catch (err) {
    if (!(err instanceof ZodError)) throw err;
    const first = err.issues[0];
    const where = first?.path.join(".") || "manifest";
    throw new InvalidArgumentError(`invalid TrainingJob: ${where}: ${first?.message}`, {
      param: where,
      cause: err,
    });
  }
}
