import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { Readable } from "node:stream";

// Kept-alive connections to upstream servers, shared by every deployment.
const AGENTS = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true }),
};

const NULL_BODY = new Set([101, 204, 205, 304]);

function toResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
  }
  const status = res.statusCode ?? 502;
  const body = NULL_BODY.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  if (!body) res.resume();
  return new Response(body, { status, statusText: res.statusMessage ?? "", headers });
}

/**
 * POSTs a text body and resolves with the response once its headers arrive, as `fetch` does, but
 * over node:http: the body goes out in one write with the headers. (Node's fetch streams even a
 * string body through an async iterator — several writes and about 0.3 ms more CPU a request.)
 * Aborting `signal` destroys the request, before or after the headers (the body then errors).
 * Connection failures reject with the socket's error (its `code`: ECONNREFUSED, ECONNRESET, …).
 */
export function httpPost(
  url: string,
  opts: { headers: Record<string, string>; body: string; signal: AbortSignal },
): Promise<Response> {
  const target = new URL(url);
  const client = target.protocol === "https:" ? https : target.protocol === "http:" ? http : undefined;
  if (!client) return Promise.reject(new TypeError(`unsupported protocol in ${target.origin}`));
  return new Promise<Response>((resolve, reject) => {
    const req = client.request(target, {
      method: "POST",
      agent: AGENTS[target.protocol as "http:" | "https:"],
      headers: { ...opts.headers, "content-length": String(Buffer.byteLength(opts.body)) },
      signal: opts.signal,
    });
    req.once("response", (res) => resolve(toResponse(res)));
    // Not `once`: an error after the response (an abort mid-body) must not go unhandled.
    req.on("error", reject);
    req.end(opts.body);
  });
}
