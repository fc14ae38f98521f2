// What the gateway adds in front of serving, against gRPC and nginx in the same run:
// `pnpm bench:gateway --help`.
import { describeMachine, thisMachine } from "../serving/machine.js";
import { type GatewayBenchOptions, parseGatewayBenchArgs, USAGE, UsageError } from "./args.js";
import { cpuDelta } from "./cpu.js";
import { benchWorkload, WrongAnswerError } from "./driver.js";
import { runLoad } from "./load.js";
import { cacheCheck } from "./metrics.js";
import { NginxError } from "./nginx.js";
import { formatCpuTable, formatTable, type Measurement, summarize, summaryLine } from "./report.js";
import { ApiKeyError, type Rig, startRig } from "./rig.js";
import { schedule } from "./schedule.js";

/** Every path at the highest level, then at one client: JIT, connection pools and serving's LRU. */
async function warmUp(rig: Rig, o: GatewayBenchOptions, signal: AbortSignal): Promise<void> {
  const most = Math.max(...o.concurrency);
  for (const driver of Object.values(rig.drivers)) {
    await runLoad(driver, { concurrency: most, requests: Math.max(o.requests, most) }, signal);
    await runLoad(driver, { concurrency: 1, requests: Math.ceil(o.requests / 4) }, signal);
  }
}

async function measure(rig: Rig, o: GatewayBenchOptions, signal: AbortSignal): Promise<Measurement[]> {
  const steps = schedule(o.rounds, o.concurrency);
  const results: Measurement[] = [];
  for (const [i, step] of steps.entries()) {
    const load = { concurrency: step.concurrency, requests: Math.max(o.requests, step.concurrency) };
    const before = await rig.cpu();
    const r = await runLoad(rig.drivers[step.path], load, signal);
    results.push({ ...step, ...r, cpuSeconds: cpuDelta(before, await rig.cpu()) });
    process.stderr.write(
      `[${i + 1}/${steps.length}] round ${step.round + 1} c=${step.concurrency} ${step.path}: ` +
        `${(r.latenciesMs.length / r.seconds).toFixed(0)} requests/s\n`,
    );
  }
  return results;
}

function setupLine(o: GatewayBenchOptions, rig: Rig): string {
  return (
    `serving answering from its response cache (${JSON.stringify(rig.expected)}); ` +
    `${rig.nginxVersion}, ${o.nginxWorkers} worker(s); gateway path with the ${rig.apiKey}; ` +
    `max_tokens ${o.maxTokens}, ${o.rounds} round(s) of >= ${o.requests} requests per level`
  );
}

async function run(o: GatewayBenchOptions, signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  console.log(`machine: ${describeMachine(thisMachine())}`);
  const rig = await startRig(o, benchWorkload(o.maxTokens));
  try {
    process.stderr.write("Started the platform and nginx; warming up\n");
    await warmUp(rig, o, signal);
    const before = await rig.servingCache();
    const measurements = await measure(rig, o, signal);
    const check = cacheCheck(
      measurements.reduce((n, m) => n + m.latenciesMs.length, 0),
      before,
      await rig.servingCache(),
    );
    const rows = summarize(measurements);
    console.log(`${setupLine(o, rig)}\n\n${formatTable(rows)}\n\n${formatCpuTable(rows)}\n\n${check.line}`);
    if (!check.ok) process.exitCode = 1;
    process.stderr.write(`Finished in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    console.log(summaryLine(rows));
  } finally {
    await rig.close();
  }
}

const ctl = new AbortController();
process.once("SIGINT", () => ctl.abort(new Error("interrupted")));
try {
  const command = parseGatewayBenchArgs(process.argv.slice(2));
  if (command.mode === "help") console.log(USAGE);
  else await run(command, ctl.signal);
} catch (error) {
  if (ctl.signal.aborted) {
    console.error("Interrupted; stopped what the benchmark had started");
    process.exitCode = 130;
  } else if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (
    error instanceof NginxError ||
    error instanceof ApiKeyError ||
    error instanceof WrongAnswerError
  ) {
    console.error(error.message);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
