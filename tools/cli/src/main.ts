import { text } from "node:stream/consumers";
import { run } from "./cli.js";

const code = await run(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(`${s}\n`),
  env: process.env,
  stdin: () => (process.stdin.isTTY ? Promise.resolve("") : text(process.stdin)),
});
process.exitCode = code;
