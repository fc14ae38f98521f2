import { currentTrace } from "@sloughgpt/runtime";
import { testApp } from "./test-app.js";

function app() {
  const a = testApp({ bodyLimit: 1024 });
  // Every route declares its permission (an undeclared one fails at registration).
  a.get("/trace", { config: { permission: "models:read" } }, async () => currentTrace() ?? null);
  return a;
}

const auth = { authorization: "Bearer sk-sg-test-key-0123456789" };

// Over a real loopback socket (fastify's inject needs a CommonJS-only module under jest's ESM mode).
async function call(opts: {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  payload?: string;
}) {
  const a = app();
  const base = await a.listen({ port: 0, host: "127.0.0.1" });
  try {
    const res = await fetch(`${base}${opts.url}`, {
      method: opts.method ?? "GET",
      headers: opts.headers ?? {},
      ...(opts.payload ? { body: opts.payload } : {}),
    });
    const body = (await res.json()) as {
      traceId: string;
      spanId: string;
      error: { code: string; type: string };
    };
    return { statusCode: res.status, headers: Object.fromEntries(res.headers), json: () => body };
  } finally {
    await a.close();
  }
}

describe("gateway app", () => {
  it("runs a request inside the caller's trace", async () => {
    const res = await call({
      url: "/trace",
      headers: { ...auth, traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
    });
    expect(res.json()).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", sampled: true });
    expect(res.json().spanId).not.toBe("00f067aa0ba902b7");
  });

  it("starts a trace when the caller sent none", async () => {
    const res = await call({ url: "/trace", headers: auth });
    expect(res.json().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it.each([
    [{}, "missing_api_key"],
    [{ authorization: "Bearer wrong" }, "invalid_api_key"],
    [{ authorization: "Basic abc" }, "missing_api_key"],
  ])("refuses %j with a 401", async (headers, code) => {
    const res = await call({ url: "/v1/models", headers });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe(code);
  });

  it("answers an unknown route with a 404 in OpenAI's error shape and a request id", async () => {
    const res = await call({ url: "/v2/nothing", headers: { ...auth, "x-request-id": "abc" } });
    expect(res.statusCode).toBe(404);
    expect(res.headers["x-request-id"]).toBe("abc");
    expect(res.json().error.code).toBe("unknown_route");
  });

  it("refuses a body over the limit with a 413", async () => {
    const res = await call({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { ...auth, "content-type": "application/json" },
      payload: JSON.stringify({ pad: "x".repeat(2000) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.type).toBe("invalid_request_error");
  });

  it.each([
    ["", "invalid_request_error"],
    ["{not json", "invalid_request_error"],
  ])("answers a JSON body %j that is empty or malformed with a 400, not a crash", async (payload, type) => {
    const res = await call({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { ...auth, "content-type": "application/json" },
      payload: payload || " ",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.type).toBe(type);
  });

  it("refuses unknown fields when loading a model, before calling serving", async () => {
    const res = await call({
      method: "POST",
      url: "/v1/admin/models",
      headers: { ...auth, "content-type": "application/json" },
      payload: JSON.stringify({ id: "m", path: "/m.gguf", colour: "red" }),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ type: "invalid_request_error" });
  });
});
