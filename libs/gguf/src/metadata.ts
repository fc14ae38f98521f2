export type GgufNumberType =
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "float32"
  | "float64";
export type GgufBigIntType = "uint64" | "int64";

export type GgufScalarValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: GgufBigIntType; readonly value: bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "string"; readonly value: string };

export type GgufArrayValue =
  | { readonly type: "array"; readonly itemType: GgufNumberType; readonly value: readonly number[] }
  | { readonly type: "array"; readonly itemType: GgufBigIntType; readonly value: readonly bigint[] }
  | { readonly type: "array"; readonly itemType: "bool"; readonly value: readonly boolean[] }
  | { readonly type: "array"; readonly itemType: "string"; readonly value: readonly string[] };

/** A typed metadata value: GGUF stores the type, and JavaScript numbers alone cannot say it. */
export type GgufMetadataValue = GgufScalarValue | GgufArrayValue;

/** Metadata in file order (keys are never integer-like, so object order is insertion order). */
export type GgufMetadata = Record<string, GgufMetadataValue>;

/** Builders for typed metadata values, e.g. `kv.uint32(512)`. */
export const kv = {
  uint8: (value: number): GgufScalarValue => ({ type: "uint8", value }),
  int8: (value: number): GgufScalarValue => ({ type: "int8", value }),
  uint16: (value: number): GgufScalarValue => ({ type: "uint16", value }),
  int16: (value: number): GgufScalarValue => ({ type: "int16", value }),
  uint32: (value: number): GgufScalarValue => ({ type: "uint32", value }),
  int32: (value: number): GgufScalarValue => ({ type: "int32", value }),
  float32: (value: number): GgufScalarValue => ({ type: "float32", value }),
  float64: (value: number): GgufScalarValue => ({ type: "float64", value }),
  uint64: (value: bigint | number): GgufScalarValue => ({ type: "uint64", value: BigInt(value) }),
  int64: (value: bigint | number): GgufScalarValue => ({ type: "int64", value: BigInt(value) }),
  bool: (value: boolean): GgufScalarValue => ({ type: "bool", value }),
  string: (value: string): GgufScalarValue => ({ type: "string", value }),
  stringArray: (value: readonly string[]): GgufArrayValue => ({ type: "array", itemType: "string", value }),
  float32Array: (value: readonly number[]): GgufArrayValue => ({ type: "array", itemType: "float32", value }),
  int32Array: (value: readonly number[]): GgufArrayValue => ({ type: "array", itemType: "int32", value }),
  uint32Array: (value: readonly number[]): GgufArrayValue => ({ type: "array", itemType: "uint32", value }),
} as const;
