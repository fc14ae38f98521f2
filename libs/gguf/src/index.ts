export {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_VERSION,
  GgmlType,
  type GgmlTypeInfo,
  type GgmlTypeName,
  ggmlTypeInfo,
  LlamaFileType,
  TokenType,
} from "./constants.js";
export { type GgufErrorReason, GgufValidationError } from "./errors.js";
export { float16BitsToFloat32, float16ToFloat32, float32ToFloat16, float32ToFloat16Bits } from "./float16.js";
export {
  checkLlamaGguf,
  type LlamaGgufInfo,
  type LlamaHyperparameters,
  REQUIRED_LLAMA_KEYS,
  validateLlamaGguf,
} from "./llama-validate.js";
export {
  type GgufArrayValue,
  type GgufMetadata,
  type GgufMetadataValue,
  type GgufScalarValue,
  kv,
} from "./metadata.js";
export {
  dequantizeQ4_0,
  dequantizeQ8_0,
  type EncodableTensorType,
  encodeTensorData,
  float32ToBytes,
  quantizeQ4_0,
  quantizeQ8_0,
} from "./quant.js";
export { dequantizeQ4_K, Q4_K_BLOCK_BYTES, Q4_K_BLOCK_VALUES, quantizeQ4_K } from "./quant-k.js";
export {
  type GgufFileInfo,
  type GgufInput,
  type GgufTensorInfo,
  inspectGguf,
  readTensorData,
} from "./reader.js";
export {
  BENCH_LLAMA_OPTIONS,
  buildTinyLlama,
  ensureTinyModel,
  type ResolvedTinyLlamaOptions,
  resolveTinyLlamaOptions,
  TINY_LLAMA_DEFAULTS,
  type TinyLlamaOptions,
  TinyLlamaOptionsError,
  type TinyLlamaTensorType,
} from "./tiny-llama.js";
export { buildSpmVocab, DEFAULT_PIECES, type LlamaVocab } from "./vocab.js";
export {
  encodeGguf,
  encodeGgufHeader,
  type GgufFileInput,
  type GgufTensorDescriptor,
  type GgufTensorInput,
  serializeGguf,
  tensorByteSize,
  writeGgufFile,
} from "./writer.js";
