// Converts the reference trainer's safetensors export to GGUF:
//   node --import tsx tools/tiny-model/src/from-trainer-main.ts <weights.safetensors> <out.gguf> [f32|f16|q8_0]
import { readFile } from "node:fs/promises";
import path from "node:path";
import { type TinyLlamaTensorType, validateLlamaGguf, writeGgufFile } from "@sloughgpt/gguf";
import { parseTrainerWeights, TrainerWeightsError, trainerWeightsToGguf } from "./from-trainer.js";

const TYPES: readonly TinyLlamaTensorType[] = ["f32", "f16", "q8_0"];
const [input, output, type = "f32"] = process.argv.slice(2);

if (!input || !output || !TYPES.includes(type as TinyLlamaTensorType)) {
  console.error("usage: from-trainer-main.ts <weights.safetensors> <out.gguf> [f32|f16|q8_0]");
  process.exitCode = 2;
} else {
  try {
    const weights = parseTrainerWeights(await readFile(input));
    const out = path.resolve(output);
    const { bytes } = await writeGgufFile(out, trainerWeightsToGguf(weights, type as TinyLlamaTensorType));
    const info = await validateLlamaGguf(out);
    console.log(`Wrote ${out} (${bytes} bytes, ${info.tensors.length} tensors)`);
  } catch (error) {
    if (!(error instanceof TrainerWeightsError)) throw error;
    console.error(`${input}: ${error.message}`);
    process.exitCode = 1;
  }
}
