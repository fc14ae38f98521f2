// One weight type measured alone in a fresh process, so its memory mixes with no other model's.
// Started by quant.ts with a JSON ChildSpec as its only argument; prints a JSON ChildResult line.
import {
  getLlama,
  LlamaCompletion,
  type LlamaContextSequence,
  LlamaLogLevel,
  type LlamaModel,
} from "node-llama-cpp";
import { residentMemory } from "./memory.js";
import { type ChildResult, type ChildSpec, childSpecSchema } from "./quant-protocol.js";

/** Greedy completions of the same prompt; the sequence keeps the prompt, so this times decoding. */
async function measureDecode(sequence: LlamaContextSequence, spec: ChildSpec) {
  const completion = new LlamaCompletion({ contextSequence: sequence });
  const generate = () =>
    completion.generateCompletion(spec.prompt, { maxTokens: spec.maxTokens, temperature: 0 });
  try {
    await generate();
    const before = sequence.tokenMeter.usedOutputTokens;
    const started = performance.now();
    for (let i = 0; i < spec.requests; i++) await generate();
    const seconds = (performance.now() - started) / 1000;
    return { tokens: sequence.tokenMeter.usedOutputTokens - before, seconds };
  } finally {
    completion.dispose({ disposeSequence: false });
  }
}

/** The same prompt repeated and cut to exactly `promptTokens` tokens. */
function longPrompt(model: LlamaModel, spec: ChildSpec) {
  const once = model.tokenize(` ${spec.prompt}`);
  const times = Math.ceil(spec.promptTokens / once.length);
  return Array.from({ length: times }, () => once)
    .flat()
    .slice(0, spec.promptTokens);
}

/** A long prompt evaluated into an empty sequence, generating nothing: prompt processing alone. */
async function measurePromptEval(model: LlamaModel, sequence: LlamaContextSequence, spec: ChildSpec) {
  const tokens = longPrompt(model, spec);
  let seconds = 0;
  for (let i = 0; i <= spec.requests; i++) {
    await sequence.clearHistory();
    const started = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(tokens);
    // The first evaluation is the warm-up.
    if (i > 0) seconds += (performance.now() - started) / 1000;
  }
  return { tokens: tokens.length * spec.requests, seconds };
}

async function measure(spec: ChildSpec): Promise<ChildResult> {
  const llama = await getLlama({
    gpu: false,
    build: "never",
    maxThreads: spec.threads,
    logLevel: LlamaLogLevel.error,
  });
  const beforeLoad = await residentMemory();
  const model = await llama.loadModel({ modelPath: spec.modelPath });
  const context = await model.createContext({
    sequences: 1,
    threads: spec.threads,
    contextSize: spec.contextSize,
  });
  try {
    const sequence = context.getSequence();
    const loaded = await residentMemory();
    const decode = await measureDecode(sequence, spec);
    const promptEval = await measurePromptEval(model, sequence, spec);
    const end = await residentMemory();
    return { memory: { beforeLoad, loaded, end }, decode, promptEval, systemInfo: llama.systemInfo };
  } finally {
    await context.dispose();
    await model.dispose();
    await llama.dispose();
  }
}

const spec = childSpecSchema.parse(JSON.parse(process.argv[2] ?? "null"));
process.stdout.write(`${JSON.stringify(await measure(spec))}\n`);
