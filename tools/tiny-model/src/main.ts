// Generates the tiny random-weight LLaMA model: `pnpm model:tiny --help`.
import path from "node:path";
import { buildTinyLlama, writeGgufFile } from "@sloughgpt/gguf";
import { parseTinyModelArgs, USAGE, UsageError } from "./args.js";

try {
  const command = parseTinyModelArgs(process.argv.slice(2));
  if (command.help) {
    console.log(USAGE);
  } else {
    const out = path.resolve(command.out);
    const { bytes } = await writeGgufFile(out, buildTinyLlama(command.options));
    console.log(`Wrote ${out} (${bytes} bytes, ${(bytes / 2 ** 20).toFixed(1)} MiB)`);
  }
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`${error.message}\n\n${USAGE}`);
  process.exitCode = 2;
}
