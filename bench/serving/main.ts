// Serving overhead over node-llama-cpp alone, in one run: `pnpm bench:serving --help`.
// With --quantizations, the bench model's weight types against each other instead (quant.ts).
import { type BenchOptions, parseBenchArgs, USAGE, UsageError } from "./args.js";
import { cpuDelta } from "./cpu.js";
import { BENCH_PROMPT } from "./driver.js";
import { runLoad } from "./load.js";
import { PinError } from "./pin.js";
import { runQuantizations } from "./quant.js";
import { QuantChildError } from "./quant-protocol.js";
import { formatCpuTable, formatTable, type Measurement, ratioLine, summarize } from "./report.js";
import { benchModel, type Rig, startRig } from "./rig.js";
import { schedule } from "./schedule.js";

async function warmUp(rig: Rig, o: BenchOptions, signal: AbortSignal): Promise<void> {
  const most = Math.max(...o.concurrency);
  for (const driver of Object.values(rig.drivers)) {
    await runLoad(driver, { concurrency: most, requests: most }, signal);
  }
}

async function measure(rig: Rig, o: BenchOptions, signal: AbortSignal): Promise<Measurement[]> {
  const steps = schedule(o.rounds, o.concurrency);
  const results: Measurement[] = [];
  for (const [i, step] of steps.entries()) {
    const load = { concurrency: step.concurrency, requests: Math.max(o.requests, step.concurrency) };
    const before = await rig.cpu();
    const r = await runLoad(rig.drivers[step.path], load, signal);
    results.push({ ...step, ...r, cpuSeconds: cpuDelta(before, await rig.cpu()) });
    process.stderr.write(
      `[${i + 1}/${steps.length}] round ${step.round + 1} c=${step.concurrency} ${step.path}: ` +
        `${(r.tokens / r.seconds).toFixed(0)} tokens/s\n`,
    );
  }
  return results;
}

function setupLine(o: BenchOptions): string {
  return (
    `bench model (${o.type}), ${o.threads} thread(s), ${o.sequences} sequences x ${o.contextSize} tokens, ` +
    `${o.maxTokens} tokens per request, ${o.rounds} round(s) of >= ${o.requests} requests per level` +
    (o.pin ? ", serving pinned to its own CPUs" : "") +
    (o.streamIntervalMs === undefined ? "" : `, engine deltas sent every ${o.streamIntervalMs} ms`)
  );
}

async function run(o: BenchOptions, signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  const modelPath = await benchModel(o.type);
  const rig = await startRig(o, modelPath, { prompt: BENCH_PROMPT, maxTokens: o.maxTokens });
  try {
    process.stderr.write(`Started the platform and loaded ${modelPath}; warming up\n`);
    await warmUp(rig, o, signal);
    const rows = summarize(await measure(rig, o, signal));
    console.log(`${setupLine(o)}\n\n${formatTable(rows)}\n\n${formatCpuTable(rows)}\n`);
    process.stderr.write(`Finished in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    console.log(ratioLine(rows));
  } finally {
    await rig.close();
  }
}

const ctl = new AbortController();
process.once("SIGINT", () => ctl.abort(new Error("interrupted")));
try {
  const command = parseBenchArgs(process.argv.slice(2), process.env);
  if (command.mode === "help") console.log(USAGE);
  else if (command.mode === "quantizations") await runQuantizations(command, ctl.signal);
  else await run(command, ctl.signal);
} catch (error) {
  if (ctl.signal.aborted) {
    console.error("Interrupted; stopped what the benchmark had started");
    process.exitCode = 130;
  } else if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof PinError || error instanceof QuantChildError) {
    console.error(error.message);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
