import {
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  status as GrpcStatus,
  type handleServerStreamingCall,
  type handleUnaryCall,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type ServiceError,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { ZodError } from "zod";
import { AppError, CancelledError, DeadlineExceededError } from "./errors.js";
import type { Metrics } from "./metrics.js";
import { childTrace, currentTrace, formatTraceparent, parseTraceparent, withTrace } from "./trace.js";

export interface CallContext {
  metadata: Metadata;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  logger: Logger;
}

interface HandlerEnv {
  logger: Logger;
  metrics: Metrics;
  service: string;
}

const REASON_KEY = "x-error-reason";
const PARAM_KEY = "x-error-param";

/** The one place a service turns errors into gRPC status; unknown errors never leak their message. */
export function toServiceError(err: unknown, logger: Logger): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof AppError) {
    if (err.reason) metadata.set(REASON_KEY, err.reason);
    if (err.param) metadata.set(PARAM_KEY, err.param);
    return { code: err.code, details: err.message, metadata };
  }
  if (err instanceof ZodError) {
    const first = err.issues[0];
    const param = first?.path.join(".") ?? "";
    if (param) metadata.set(PARAM_KEY, param);
    const message = err.issues.map((i) => `${i.path.join(".") || "request"}: ${i.message}`).join("; ");
    return { code: GrpcStatus.INVALID_ARGUMENT, details: message, metadata };
  }
  logger.error({ err }, "Failed call with an unexpected error");
  return { code: GrpcStatus.INTERNAL, details: "internal error", metadata };
}

/** Client side of the same mapping: a gRPC error becomes the AppError the server raised. */
export function fromServiceError(err: ServiceError): AppError {
  const reason = err.metadata?.get(REASON_KEY)[0]?.toString();
  const param = err.metadata?.get(PARAM_KEY)[0]?.toString();
  return new AppError(err.code, err.details || err.message, { cause: err, reason, param });
}

function callSignal(call: { on(e: "cancelled", f: () => void): unknown; getDeadline(): Date | number }) {
  const ctl = new AbortController();
  call.on("cancelled", () => ctl.abort(new CancelledError("the call was cancelled")));
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (Number.isFinite(ms) && ms > 0) {
    const t = setTimeout(
      () => ctl.abort(new DeadlineExceededError("the call's deadline passed")),
      Math.max(0, ms - Date.now()),
    );
    t.unref();
    ctl.signal.addEventListener("abort", () => clearTimeout(t), { once: true });
  }
  return ctl;
}

function traceFrom(metadata: Metadata) {
  return childTrace(parseTraceparent(metadata.get("traceparent")[0]?.toString()));
}

function observe(env: HandlerEnv, method: string) {
  const end = env.metrics.grpcSeconds.startTimer({ grpc_service: env.service, grpc_method: method });
  return (code: GrpcStatus) => {
    end();
    env.metrics.grpcHandled.inc({
      grpc_service: env.service,
      grpc_method: method,
      grpc_code: GrpcStatus[code],
    });
  };
}

export function unary<Req, Res>(
  env: HandlerEnv,
  method: string,
  fn: (req: Req, ctx: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    const done = observe(env, method);
    const ctl = callSignal(call);
    withTrace(traceFrom(call.metadata), () => {
      const ctx = { metadata: call.metadata, signal: ctl.signal, logger: env.logger.child({ method }) };
      fn(call.request, ctx).then(
        (res) => {
          done(GrpcStatus.OK);
          callback(null, res);
        },
        (err: unknown) => {
          const se = toServiceError(err, ctx.logger);
          done(se.code ?? GrpcStatus.INTERNAL);
          callback(se, null);
        },
      );
    });
  };
}

export function serverStream<Req, Res>(
  env: HandlerEnv,
  method: string,
  fn: (req: Req, write: (res: Res) => Promise<void>, ctx: CallContext) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    const done = observe(env, method);
    const ctl = callSignal(call);
    // Respect back-pressure: resolve once the message is flushed to the transport, or at once
    // when the call is gone (a cancelled call never drains).
    const write = (res: Res) =>
      new Promise<void>((resolve) => {
        if (ctl.signal.aborted || call.write(res)) return resolve();
        const done = () => {
          call.off("drain", done);
          ctl.signal.removeEventListener("abort", done);
          resolve();
        };
        call.once("drain", done);
        ctl.signal.addEventListener("abort", done, { once: true });
      });
    withTrace(traceFrom(call.metadata), () => {
      const ctx = { metadata: call.metadata, signal: ctl.signal, logger: env.logger.child({ method }) };
      fn(call.request, write, ctx).then(
        () => {
          done(GrpcStatus.OK);
          call.end();
        },
        (err: unknown) => {
          const se = toServiceError(err, ctx.logger);
          done(se.code ?? GrpcStatus.INTERNAL);
          // grpc-js turns an 'error' event on a server stream into the call's final status.
          call.emit("error", Object.assign(new Error(se.details), se));
        },
      );
    });
  };
}

export interface GrpcServer {
  port: number;
  health: HealthImplementation;
  /** Stops accepting calls, waits up to graceMs for in-flight ones, then cancels the rest. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startGrpcServer(opts: {
  port: number;
  host?: string;
  services: { name: string; definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
  logger: Logger;
}): Promise<GrpcServer> {
  const server = new Server({ "grpc.max_receive_message_length": 32 * 1024 * 1024 });
  const health = new HealthImplementation({ "": "NOT_SERVING" });
  health.addToServer(server);
  for (const s of opts.services) {
    server.addService(s.definition, s.implementation);
    health.setStatus(s.name, "SERVING");
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${opts.host ?? "0.0.0.0"}:${opts.port}`,
      ServerCredentials.createInsecure(),
      (err, p) => (err ? reject(err) : resolve(p)),
    );
  });
  health.setStatus("", "SERVING");
  return {
    port,
    health,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        health.setStatus("", "NOT_SERVING");
        for (const s of opts.services) health.setStatus(s.name, "NOT_SERVING");
        const timer = setTimeout(() => {
          opts.logger.warn({ graceMs }, "Cancelled in-flight calls after the shutdown grace period");
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** Metadata for an outgoing call: the current trace as a child span. */
export function outgoingMetadata(extra?: Record<string, string>): Metadata {
  const md = new Metadata();
  md.set("traceparent", formatTraceparent(childTrace(currentTrace())));
  for (const [k, v] of Object.entries(extra ?? {})) md.set(k, v);
  return md;
}

type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  cb: (err: ServiceError | null, res: Res) => void,
) => ClientUnaryCall;

/** Promise form of a unary call with a deadline, trace propagation and AppError mapping. */
export function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  req: Req,
  opts: { deadlineMs?: number; signal?: AbortSignal } = {},
): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const deadline = Date.now() + (opts.deadlineMs ?? 30_000);
    const onAbort = () => call.cancel();
    const call = withoutCallerStack(() =>
      method(req, outgoingMetadata(), { deadline }, (err, res) => {
        // A long-lived signal (a job's, a benchmark's) must not collect one listener per call.
        opts.signal?.removeEventListener("abort", onAbort);
        if (err) reject(fromServiceError(err));
        else resolve(res);
      }),
    );
    opts.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

type StreamMethod<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
) => ClientReadableStream<Res>;

/** Async iteration over a server stream; cancelling the signal cancels the call. */
export async function* callStream<Req, Res>(
  method: StreamMethod<Req, Res>,
  req: Req,
  opts: { deadlineMs?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Res> {
  const deadline = Date.now() + (opts.deadlineMs ?? 300_000);
  const call = withoutCallerStack(() => method(req, outgoingMetadata(), { deadline }));
  const onAbort = () => call.cancel();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const msg of call) yield msg as Res;
  } catch (err) {
    throw isServiceError(err) ? fromServiceError(err) : err;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    call.cancel();
  }
}

/**
 * Starts a call without the stack trace grpc-js captures on every call to append to its errors'
 * details (a measurable share of a request's CPU in the gateway's profile); errors are mapped to
 * AppErrors here and never show a stack anyway.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function isServiceError(err: unknown): err is ServiceError {
  return typeof err === "object" && err !== null && "code" in err && "metadata" in err;
}

/** Standard channel options for service-to-service clients. */
export const clientOptions = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.max_receive_message_length": 32 * 1024 * 1024,
};
