import { spawn } from "node:child_process";
import { once } from "node:events";
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { QuantOptions } from "./args.js";
import { BENCH_PROMPT } from "./driver.js";
import { cpuFeatures, describeMachine, thisMachine } from "./machine.js";
import { type ChildResult, type ChildSpec, parseChildOutput, QuantChildError } from "./quant-protocol.js";
import {
  formatMemoryTable,
  formatSpeedTable,
  QUANT_TYPES,
  type QuantMeasurement,
  type QuantType,
  quantRatioLine,
  summarizeQuant,
} from "./quant-report.js";
import { benchModel } from "./rig.js";
import { interleave } from "./schedule.js";

const CHILD = fileURLToPath(new URL("./quant-child.ts", import.meta.url));
// Resolved here rather than by the child's node, so the child starts from any working directory.
const TSX = import.meta.resolve("tsx");
// A child loads a 57 MB model and generates a few hundred tokens: seconds, not minutes.
const CHILD_TIMEOUT_MS = 120_000;

/** Runs quant-child.ts in a fresh `node --import tsx` and returns the result it printed. */
async function runChild(spec: ChildSpec, signal: AbortSignal): Promise<ChildResult> {
  const timeout = AbortSignal.timeout(CHILD_TIMEOUT_MS);
  const child = spawn(process.execPath, ["--import", TSX, CHILD, JSON.stringify(spec)], {
    stdio: ["ignore", "pipe", "inherit"],
    signal: AbortSignal.any([signal, timeout]),
  });
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  try {
    const [code, killedBy] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
    if (code !== 0) throw new QuantChildError(`${describeChild(spec)} exited with ${code ?? killedBy}`);
  } catch (error) {
    if (!timeout.aborted || signal.aborted) throw error;
    throw new QuantChildError(`${describeChild(spec)} ran past ${CHILD_TIMEOUT_MS / 1000} s`, {
      cause: error,
    });
  }
  return parseChildOutput(stdout);
}

function describeChild(spec: ChildSpec): string {
  return `the child measuring ${spec.modelPath}`;
}

/** Each type's bench model, generated on first use, and its size on disk. */
async function models(): Promise<Record<QuantType, { path: string; bytes: number }>> {
  const entries = [];
  for (const type of QUANT_TYPES) {
    const path = await benchModel(type);
    entries.push([type, { path, bytes: (await stat(path)).size }] as const);
  }
  return Object.fromEntries(entries) as Record<QuantType, { path: string; bytes: number }>;
}

/** The same settings for every type; only the model file differs. */
function childSpec(o: QuantOptions, modelPath: string): ChildSpec {
  return {
    modelPath,
    threads: o.threads,
    contextSize: o.contextSize,
    prompt: BENCH_PROMPT,
    maxTokens: o.maxTokens,
    requests: o.requests,
    promptTokens: o.promptTokens,
  };
}

function progress(i: number, total: number, m: QuantMeasurement): string {
  const r = m.result;
  return (
    `[${i + 1}/${total}] round ${m.round + 1} ${m.type}: ` +
    `${(r.decode.tokens / r.decode.seconds).toFixed(0)} decode tokens/s, ` +
    `${(r.promptEval.tokens / r.promptEval.seconds).toFixed(0)} prompt tokens/s, ` +
    `RSS ${(r.memory.loaded.rss / 2 ** 20).toFixed(0)} MiB\n`
  );
}

function setupLine(o: QuantOptions): string {
  return (
    `bench model (8 layers, 512 wide) as ${QUANT_TYPES.join(", ")}; ${o.threads} thread(s), ` +
    `1 sequence x ${o.contextSize} tokens; decode: ${o.requests} greedy requests x ${o.maxTokens} tokens, ` +
    `prompt eval: ${o.requests} x ${o.promptTokens} tokens, each after a warm-up; ` +
    `${o.rounds} round(s), one fresh process per type and round`
  );
}

/** `--quantizations`: every weight type in its own process, the types interleaved over rounds. */
export async function runQuantizations(o: QuantOptions, signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  const files = await models();
  const steps = interleave(QUANT_TYPES, o.rounds);
  const measurements: QuantMeasurement[] = [];
  for (const [i, { round, item: type }] of steps.entries()) {
    const m = { round, type, result: await runChild(childSpec(o, files[type].path), signal) };
    measurements.push(m);
    process.stderr.write(progress(i, steps.length, m));
  }
  const rows = summarizeQuant(measurements, Object.fromEntries(QUANT_TYPES.map((t) => [t, files[t].bytes])));
  const features = cpuFeatures(measurements[0]?.result.systemInfo ?? "");
  console.log(
    `machine: ${describeMachine(thisMachine())}\nllama.cpp CPU features: ${features}\n` +
      `setup: ${setupLine(o)}\n\n${formatMemoryTable(rows)}\n\n${formatSpeedTable(rows)}\n`,
  );
  process.stderr.write(`Finished in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  console.log(quantRatioLine(rows));
}
