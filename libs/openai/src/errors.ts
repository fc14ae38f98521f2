import { status as GrpcStatus } from "@grpc/grpc-js";
import { AppError } from "@sloughgpt/runtime";
import { ZodError } from "zod";

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface HttpError {
  status: number;
  body: OpenAIErrorBody;
  headers: Record<string, string>;
}

const BY_CODE: Partial<Record<GrpcStatus, { status: number; type: string; code: string | null }>> = {
  [GrpcStatus.INVALID_ARGUMENT]: { status: 400, type: "invalid_request_error", code: null },
  [GrpcStatus.FAILED_PRECONDITION]: { status: 400, type: "invalid_request_error", code: null },
  [GrpcStatus.OUT_OF_RANGE]: { status: 400, type: "invalid_request_error", code: null },
  [GrpcStatus.UNAUTHENTICATED]: { status: 401, type: "invalid_request_error", code: "invalid_api_key" },
  [GrpcStatus.PERMISSION_DENIED]: { status: 403, type: "permission_error", code: "permission_denied" },
  [GrpcStatus.NOT_FOUND]: { status: 404, type: "invalid_request_error", code: "not_found" },
  [GrpcStatus.ALREADY_EXISTS]: { status: 409, type: "invalid_request_error", code: "already_exists" },
  [GrpcStatus.ABORTED]: { status: 409, type: "invalid_request_error", code: "conflict" },
  [GrpcStatus.RESOURCE_EXHAUSTED]: { status: 429, type: "rate_limit_error", code: "rate_limit_exceeded" },
  [GrpcStatus.CANCELLED]: { status: 499, type: "invalid_request_error", code: "cancelled" },
  [GrpcStatus.UNIMPLEMENTED]: { status: 501, type: "server_error", code: "not_implemented" },
  [GrpcStatus.UNAVAILABLE]: { status: 503, type: "server_error", code: "service_unavailable" },
  [GrpcStatus.DEADLINE_EXCEEDED]: { status: 504, type: "server_error", code: "timeout" },
};

/** OpenAI gives some refusals a type of their own. */
const TYPE_BY_REASON: Record<string, string> = { insufficient_quota: "insufficient_quota" };

/** Errors that know their HTTP headers (rate-limit state, retry-after) carry them in `headers`. */
function ownHeaders(err: AppError): Record<string, string> {
  const h = (err as { headers?: unknown }).headers;
  if (typeof h !== "object" || h === null) return {};
  return Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => typeof e[1] === "string"));
}

const INTERNAL = { status: 500, type: "server_error", code: "internal_error" };

/**
 * A refusal of the HTTP request itself (bad JSON, body too large, unknown route), before any domain
 * code ran; shaped like a web framework's own client errors, which keep their status too.
 */
export class HttpRequestError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "HttpRequestError";
  }
}

/** Client errors of an HTTP layer (Fastify's, HttpRequestError) keep their status. */
function isFrameworkClientError(err: unknown): err is { statusCode: number; message: string; code?: string } {
  const e = err as { statusCode?: unknown; code?: unknown };
  return (
    typeof e?.statusCode === "number" &&
    e.statusCode >= 400 &&
    e.statusCode < 500 &&
    typeof e.code === "string"
  );
}

/**
 * The one error boundary of an OpenAI-compatible HTTP API (the gateway's, serving's): domain and
 * upstream gRPC errors become an HTTP status and OpenAI's error JSON. Unknown errors say only
 * "internal error"; nothing leaks a stack.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const param = issue?.path.join(".") || null;
    return {
      status: 400,
      body: {
        error: {
          message: err.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
          type: "invalid_request_error",
          param,
          code: "invalid_value",
        },
      },
      headers: {},
    };
  }
  if (err instanceof AppError) {
    const m = BY_CODE[err.code] ?? INTERNAL;
    const message = m === INTERNAL ? "internal error" : err.message;
    const headers: Record<string, string> = {
      ...(m.status === 429 || m.status === 503 ? { "retry-after": "1" } : {}),
      ...ownHeaders(err),
    };
    const type = (err.reason && TYPE_BY_REASON[err.reason]) ?? m.type;
    return {
      status: m.status,
      body: { error: { message, type, param: err.param ?? null, code: err.reason ?? m.code } },
      headers,
    };
  }
  if (isFrameworkClientError(err)) {
    return {
      status: err.statusCode,
      body: {
        error: { message: err.message, type: "invalid_request_error", param: null, code: err.code ?? null },
      },
      headers: {},
    };
  }
  return {
    status: 500,
    body: { error: { message: "internal error", type: INTERNAL.type, param: null, code: INTERNAL.code } },
    headers: {},
  };
}
