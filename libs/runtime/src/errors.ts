import { status as GrpcStatus } from "@grpc/grpc-js";

/**
 * Domain errors carry the gRPC status they map to. Each service converts them to
 * its protocol (gRPC status or HTTP + OpenAI error JSON) at exactly one boundary.
 */
export class AppError extends Error {
  readonly code: GrpcStatus;
  /** Field or parameter the error is about, when there is one. */
  readonly param: string | undefined;
  /** Machine-readable reason, e.g. `model_not_found`. */
  readonly reason: string | undefined;

  constructor(
    code: GrpcStatus,
    message: string,
    opts: { cause?: unknown; param?: string | undefined; reason?: string | undefined } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.param = opts.param;
    this.reason = opts.reason;
  }
}

type Opts = ConstructorParameters<typeof AppError>[2];

export class InvalidArgumentError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.INVALID_ARGUMENT, message, opts);
  }
}
export class NotFoundError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.NOT_FOUND, message, opts);
  }
}
export class AlreadyExistsError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.ALREADY_EXISTS, message, opts);
  }
}
export class FailedPreconditionError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.FAILED_PRECONDITION, message, opts);
  }
}
export class ResourceExhaustedError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.RESOURCE_EXHAUSTED, message, opts);
  }
}
export class UnavailableError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.UNAVAILABLE, message, opts);
  }
}
export class DeadlineExceededError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.DEADLINE_EXCEEDED, message, opts);
  }
}
export class UnauthenticatedError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.UNAUTHENTICATED, message, opts);
  }
}
export class PermissionDeniedError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.PERMISSION_DENIED, message, opts);
  }
}
export class CancelledError extends AppError {
  constructor(message: string, opts?: Opts) {
    super(GrpcStatus.CANCELLED, message, opts);
  }
}

/** Anything not an AppError: reported as INTERNAL without its message or stack. */
export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
