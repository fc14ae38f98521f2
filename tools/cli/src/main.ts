import { text } from "node:stream/consumers";
import { run } from "./cli.js";

// Ctrl-C stops a long-running command cleanly (a local training run ends its processes first).
const stop = new AbortController();
process.once("SIGINT", () => stop.abort());
const code = await run(process.argv.slice(2), {
  signal: stop.signal,
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(`${s}\n`),
  env: process.env,
  stdin: () => (process.stdin.isTTY ? Promise.resolve("") : text(process.stdin)),
});
process.exitCode = code;
