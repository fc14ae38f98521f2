import { status as GrpcStatus } from "@grpc/grpc-js";
import { AppError, InvalidArgumentError, NotFoundError } from "@sloughgpt/runtime";
import { z } from "zod";
import { toHttpError } from "./errors.js";

describe("toHttpError", () => {
  it.each([
    [GrpcStatus.INVALID_ARGUMENT, 400],
    [GrpcStatus.UNAUTHENTICATED, 401],
    [GrpcStatus.PERMISSION_DENIED, 403],
    [GrpcStatus.NOT_FOUND, 404],
    [GrpcStatus.ALREADY_EXISTS, 409],
    [GrpcStatus.RESOURCE_EXHAUSTED, 429],
    [GrpcStatus.UNAVAILABLE, 503],
    [GrpcStatus.DEADLINE_EXCEEDED, 504],
    [GrpcStatus.INTERNAL, 500],
    [GrpcStatus.UNKNOWN, 500],
  ])("maps gRPC code %i to HTTP %i", (code, status) => {
    expect(toHttpError(new AppError(code, "x")).status).toBe(status);
  });

  it("keeps the reason as OpenAI's error code and the param", () => {
    const e = toHttpError(
      new NotFoundError("The model 'x' does not exist", { param: "model", reason: "model_not_found" }),
    );
    expect(e.body).toEqual({
      error: {
        message: "The model 'x' does not exist",
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      },
    });
  });

  it("asks 429s to retry", () => {
    expect(toHttpError(new AppError(GrpcStatus.RESOURCE_EXHAUSTED, "busy")).headers).toEqual({
      "retry-after": "1",
    });
  });

  it("names the field of a validation error", () => {
    const r = z.object({ messages: z.array(z.string()).min(1) }).safeParse({ messages: [] });
    const e = toHttpError(r.error);
    expect(e.status).toBe(400);
    expect(e.body.error.param).toBe("messages");
  });

  it("never leaks an unexpected error's message or stack", () => {
    const e = toHttpError(new Error("password=hunter2 at /srv/app.ts:12"));
    expect(e.status).toBe(500);
    expect(e.body).toEqual({
      error: { message: "internal error", type: "server_error", param: null, code: "internal_error" },
    });
    expect(JSON.stringify(e.body)).not.toMatch(/hunter2|app\.ts/);
    expect(toHttpError(new AppError(GrpcStatus.INTERNAL, "db password wrong")).body.error.message).toBe(
      "internal error",
    );
  });

  it("passes a client error of the framework through", () => {
    const e = toHttpError(
      Object.assign(new Error("Body is too large"), { statusCode: 413, code: "FST_ERR_CTP_BODY_TOO_LARGE" }),
    );
    expect(e.status).toBe(413);
    expect(e.body.error.code).toBe("FST_ERR_CTP_BODY_TOO_LARGE");
  });

  it("treats an InvalidArgumentError as a 400 with its message", () => {
    expect(toHttpError(new InvalidArgumentError("bad n", { param: "n" })).body.error).toMatchObject({
      message: "bad n",
      param: "n",
    });
  });
});
