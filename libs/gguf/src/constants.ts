/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml keeps at most 4 dimensions per tensor. */
export const GGML_MAX_DIMS = 4;
/** ggml stores tensor names in a 64-byte buffer including the terminating NUL. */
export const GGML_MAX_NAME = 64;

/** Metadata value type ids as stored in the file. */
export const GgufValueTypeId = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufValueTypeName = keyof typeof GgufValueTypeId;
export type GgufScalarTypeName = Exclude<GgufValueTypeName, "array">;

const valueTypeNames = new Map<number, GgufValueTypeName>(
  Object.entries(GgufValueTypeId).map(([name, id]) => [id, name as GgufValueTypeName]),
);

export function ggufValueTypeName(id: number): GgufValueTypeName | undefined {
  return valueTypeNames.get(id);
}

/** ggml tensor type ids (ggml.h `enum ggml_type`). Ids 4, 5, 31-33 and 36-38 were removed upstream. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
  NVFP4: 40,
  Q1_0: 41,
  Q2_0: 42,
} as const;

export type GgmlTypeName = keyof typeof GgmlType;

export interface GgmlTypeInfo {
  readonly name: GgmlTypeName;
  /** Values per block; a row's length must be a multiple of it. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

// [blockSize, typeSize] per type, matching ggml's type traits.
const typeLayout: Record<GgmlTypeName, readonly [number, number]> = {
  F32: [1, 4],
  F16: [1, 2],
  Q4_0: [32, 18],
  Q4_1: [32, 20],
  Q5_0: [32, 22],
  Q5_1: [32, 24],
  Q8_0: [32, 34],
  Q8_1: [32, 36],
  Q2_K: [256, 84],
  Q3_K: [256, 110],
  Q4_K: [256, 144],
  Q5_K: [256, 176],
  Q6_K: [256, 210],
  Q8_K: [256, 292],
  IQ2_XXS: [256, 66],
  IQ2_XS: [256, 74],
  IQ3_XXS: [256, 98],
  IQ1_S: [256, 50],
  IQ4_NL: [32, 18],
  IQ3_S: [256, 110],
  IQ2_S: [256, 82],
  IQ4_XS: [256, 136],
  I8: [1, 1],
  I16: [1, 2],
  I32: [1, 4],
  I64: [1, 8],
  F64: [1, 8],
  IQ1_M: [256, 56],
  BF16: [1, 2],
  TQ1_0: [256, 54],
  TQ2_0: [256, 66],
  MXFP4: [32, 17],
  NVFP4: [64, 36],
  Q1_0: [128, 18],
  Q2_0: [64, 18],
};

const typeInfoById = new Map<number, GgmlTypeInfo>(
  (Object.keys(GgmlType) as GgmlTypeName[]).map((name) => {
    const [blockSize, typeSize] = typeLayout[name];
    return [GgmlType[name], { name, blockSize, typeSize }];
  }),
);

/** Layout of a ggml tensor type, or undefined for ids this library does not know. */
export function ggmlTypeInfo(type: number): GgmlTypeInfo | undefined {
  return typeInfoById.get(type);
}

/** `general.file_type` values (llama.h `enum llama_ftype`) for the types this library writes. */
export const LlamaFileType = {
  ALL_F32: 0,
  MOSTLY_F16: 1,
  MOSTLY_Q4_0: 2,
  MOSTLY_Q8_0: 7,
  MOSTLY_Q4_K_S: 14,
} as const;

/** `tokenizer.ggml.token_type` values (llama.h `enum llama_token_type`). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
