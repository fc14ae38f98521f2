import {
  buildSpmVocab,
  buildTinyLlama,
  type EncodableTensorType,
  encodeTensorData,
  type GgufFileInput,
  type GgufTensorInput,
  ggmlTypeInfo,
  kv,
  type TinyLlamaTensorType,
} from "@sloughgpt/gguf";

/**
 * The reference trainer (`services/training-controller/trainer/train.py`) writes its weights as a
 * safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor (GGUF
 * names, PyTorch shapes, byte offsets into the data) with `__metadata__` holding the hyperparameters,
 * then raw little-endian float32 data. This turns it into the same GGUF layout the tiny model has.
 */
export const TRAINER_VOCAB = "sloughgpt-byte-spm-v1";

/** The trainer's vocabulary: the tiny-model layout with only the byte tokens and "▁" (a space). */
export const trainerVocab = () => buildSpmVocab(["\u2581"]);

export class TrainerWeightsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrainerWeightsError";
  }
}

export interface TrainerMetadata {
  readonly name: string;
  readonly embeddingLength: number;
  readonly blockCount: number;
  readonly feedForwardLength: number;
  readonly headCount: number;
  readonly headCountKv: number;
  readonly contextLength: number;
  readonly rmsEps: number;
  readonly steps?: number;
  readonly finalEvalLoss?: number;
}

const COUNTS = {
  embeddingLength: "embedding_length",
  blockCount: "block_count",
  feedForwardLength: "feed_forward_length",
  headCount: "head_count",
  headCountKv: "head_count_kv",
  contextLength: "context_length",
} as const;

/** safetensors metadata values are strings. */
function readMetadata(raw: unknown): TrainerMetadata {
  const m = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  if (m.format !== "sloughgpt-trainer") throw new TrainerWeightsError("not a trainer export (format)");
  if (m.vocab !== TRAINER_VOCAB)
    throw new TrainerWeightsError(`vocabulary ${String(m.vocab)} is not ${TRAINER_VOCAB}`);
  const number = (key: string) => Number(m[key] ?? Number.NaN);
  const counts = Object.fromEntries(
    Object.entries(COUNTS).map(([field, key]) => {
      const value = number(key);
      if (!Number.isSafeInteger(value) || value < 1)
        throw new TrainerWeightsError(`${key} must be a positive integer`);
      return [field, value];
    }),
  ) as Record<keyof typeof COUNTS, number>;
  const rmsEps = number("rms_eps");
  if (!(rmsEps > 0)) throw new TrainerWeightsError("rms_eps must be a positive number");
  const optional = (key: string) => (m[key] === undefined ? undefined : number(key));
  return {
    ...counts,
    name: typeof m.name === "string" && m.name ? m.name : "sloughgpt-trained",
    rmsEps,
    steps: optional("steps"),
    finalEvalLoss: optional("final_eval_loss"),
  };
}

export interface TrainerWeights {
  readonly metadata: TrainerMetadata;
  /** By GGUF tensor name; shapes in PyTorch order ([out, in]). */
  readonly tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;
}

export function parseTrainerWeights(bytes: Uint8Array): TrainerWeights {
  if (bytes.length < 8) throw new TrainerWeightsError("file is shorter than the safetensors header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw new TrainerWeightsError("header runs past the end of the file");
  const header = parseJson(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const { __metadata__: rawMetadata, ...entries } = header;
  const metadata = readMetadata(rawMetadata);
  const data = bytes.subarray(8 + headerLength);
  const tensors = new Map(
    Object.entries(entries).map(([name, raw]) => [name, readTensor(name, raw, data)] as const),
  );
  return { metadata, tensors };
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch (cause) {
    throw new TrainerWeightsError("the safetensors header is not JSON", { cause });
  }
  throw new TrainerWeightsError("the safetensors header is not a JSON object");
}

function readTensor(name: string, raw: unknown, data: Uint8Array) {
  const entry = (raw ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const shape = entry.shape;
  const offsets = entry.data_offsets;
  if (entry.dtype !== "F32" || !isCounts(shape) || !isCounts(offsets) || offsets.length !== 2) {
    throw new TrainerWeightsError(
      `tensor ${name}: expected {dtype: "F32", shape, data_offsets: [begin, end]}`,
    );
  }
  const [begin = 0, end = 0] = offsets;
  const count = shape.reduce((a, b) => a * b, 1);
  if (end - begin !== count * 4 || end > data.length) {
    throw new TrainerWeightsError(
      `tensor ${name}: offsets ${begin}..${end} do not hold ${count} float32 values`,
    );
  }
  const values = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset + begin, end - begin);
  for (let i = 0; i < count; i++) values[i] = view.getFloat32(i * 4, true);
  return { shape, values };
}

function isCounts(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => Number.isSafeInteger(n) && n >= 0);
}

/**
 * The GGUF for trained weights: metadata, tensor names, order and types come from `buildTinyLlama`
 * (so the llama layout is defined once, in libs/gguf); only the data is the trainer's.
 */
export function trainerWeightsToGguf(
  weights: TrainerWeights,
  tensorType: TinyLlamaTensorType = "f32",
): GgufFileInput {
  const { metadata: m } = weights;
  const { name, steps: _steps, finalEvalLoss: _loss, ...dims } = m;
  const base = buildTinyLlama({ ...dims, name, tensorType, vocab: trainerVocab() });
  const tensors = base.tensors.map((t) => trainedTensor(t, weights));
  const extra = new Set(
    [...weights.tensors.keys()].filter((name) => !base.tensors.some((t) => t.name === name)),
  );
  if (extra.size > 0) throw new TrainerWeightsError(`unexpected tensors: ${[...extra].join(", ")}`);
  return {
    metadata: {
      ...base.metadata,
      "general.description": kv.string(
        `Trained by the SloughGPT reference trainer (${m.steps ?? "?"} steps` +
          `${m.finalEvalLoss === undefined ? "" : `, held-out loss ${m.finalEvalLoss}`}); byte-level vocabulary`,
      ),
    },
    tensors,
  };
}

function trainedTensor(t: GgufTensorInput, weights: TrainerWeights): GgufTensorInput {
  const trained = weights.tensors.get(t.name);
  if (!trained) throw new TrainerWeightsError(`missing tensor ${t.name}`);
  const expected = [...t.shape].reverse();
  if (trained.shape.join("x") !== expected.join("x")) {
    throw new TrainerWeightsError(
      `tensor ${t.name} has shape [${trained.shape.join(", ")}], expected [${expected.join(", ")}]`,
    );
  }
  const type = ggmlTypeInfo(t.type)?.name as EncodableTensorType;
  return { ...t, data: encodeTensorData(trained.values, type) };
}
