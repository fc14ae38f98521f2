import { text } from "node:stream/consumers";
import { run } from "./cli.js";

const code = await run(process.argv.slice(2), {
  // A long-running command asks for Ctrl-C, to stop cleanly (a local training run ends its processes).
  interrupt: () => {
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    return stop.signal;
  },
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(`${s}\n`),
  env: process.env,
  stdin: () => (process.stdin.isTTY ? Promise.resolve("") : text(process.stdin)),
});
process.exitCode = code;
