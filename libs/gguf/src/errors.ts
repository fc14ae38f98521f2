/** Machine-readable reasons a file is rejected. */
export type GgufErrorReason =
  | "bad_magic"
  | "unsupported_version"
  | "truncated"
  | "bad_metadata"
  | "bad_tensor_info"
  | "unknown_tensor_type"
  | "truncated_tensor_data"
  | "wrong_architecture"
  | "missing_key"
  | "bad_key"
  | "inconsistent_tokens"
  | "missing_tensor"
  | "bad_tensor_shape";

/**
 * A GGUF file that is malformed or not a loadable LLaMA model. llama.cpp aborts the
 * whole process on some of these, so callers check files with this library first.
 */
export class GgufValidationError extends Error {
  readonly reason: GgufErrorReason;

  constructor(reason: GgufErrorReason, message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = "GgufValidationError";
    this.reason = reason;
  }
}
