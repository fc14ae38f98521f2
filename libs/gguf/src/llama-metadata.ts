import { GgufValidationError } from "./errors.js";
import type { GgufMetadata, GgufMetadataValue } from "./metadata.js";

type ArrayItemType = Extract<GgufMetadataValue, { type: "array" }>["itemType"];

/** Typed, named lookups over metadata that throw GgufValidationError naming the key. */
export class MetadataReader {
  constructor(private readonly metadata: GgufMetadata) {}

  has(key: string): boolean {
    return this.metadata[key] !== undefined;
  }

  string(key: string): string;
  string(key: string, optional: "optional"): string | undefined;
  string(key: string, optional?: "optional"): string | undefined {
    const value = this.get(key, optional);
    if (value === undefined) return undefined;
    if (value.type !== "string") throw wrongType(key, "string", value);
    return value.value;
  }

  uint32(key: string): number;
  uint32(key: string, optional: "optional"): number | undefined;
  uint32(key: string, optional?: "optional"): number | undefined {
    const value = this.get(key, optional);
    if (value === undefined) return undefined;
    if (value.type !== "uint32") throw wrongType(key, "uint32", value);
    return value.value;
  }

  float32(key: string): number {
    const value = this.get(key)!;
    if (value.type !== "float32") throw wrongType(key, "float32", value);
    return value.value;
  }

  /** A uint32, or (as llama.cpp allows for some keys) one uint32/int32 per block. */
  perBlock(key: string, blocks: number): number[];
  perBlock(key: string, blocks: number, optional: "optional"): number[] | undefined;
  perBlock(key: string, blocks: number, optional?: "optional"): number[] | undefined {
    const value = this.get(key, optional);
    if (value === undefined) return undefined;
    if (value.type === "uint32") return new Array<number>(blocks).fill(value.value);
    if (value.type !== "array" || (value.itemType !== "uint32" && value.itemType !== "int32")) {
      throw wrongType(key, "uint32 or array of uint32", value);
    }
    if (value.value.length !== blocks) {
      throw badKey(key, `has ${value.value.length} entries, expected one per block (${blocks})`);
    }
    return value.value as number[];
  }

  array<T extends ArrayItemType>(key: string, itemTypes: readonly T[]): readonly unknown[];
  array<T extends ArrayItemType>(
    key: string,
    itemTypes: readonly T[],
    optional: "optional",
  ): readonly unknown[] | undefined;
  array<T extends ArrayItemType>(
    key: string,
    itemTypes: readonly T[],
    optional?: "optional",
  ): readonly unknown[] | undefined {
    const value = this.get(key, optional);
    if (value === undefined) return undefined;
    if (value.type !== "array" || !(itemTypes as readonly string[]).includes(value.itemType)) {
      throw wrongType(key, itemTypes.map((t) => `array of ${t}`).join(" or "), value);
    }
    return value.value;
  }

  private get(key: string, optional?: "optional"): GgufMetadataValue | undefined {
    const value = this.metadata[key];
    if (value === undefined && optional === undefined) {
      throw new GgufValidationError("missing_key", `missing required metadata key '${key}'`);
    }
    return value;
  }
}

export function badKey(key: string, problem: string): GgufValidationError {
  return new GgufValidationError("bad_key", `metadata '${key}' ${problem}`);
}

export function badValue(key: string, value: unknown, why = ""): never {
  throw badKey(key, `has invalid value ${value}${why ? ` (${why})` : ""}`);
}

function wrongType(key: string, expected: string, actual: GgufMetadataValue): GgufValidationError {
  const got = actual.type === "array" ? `array of ${actual.itemType}` : actual.type;
  return badKey(key, `must be ${expected}, got ${got}`);
}
