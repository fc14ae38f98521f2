import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpRequestError } from "@sloughgpt/openai";
import { UnauthenticatedError } from "@sloughgpt/runtime";

/**
 * A check of `Authorization: Bearer <key>` against the configured key; without one, every request
 * passes. Both sides are hashed first, so the comparison takes the same time whatever the length
 * or content of what was sent.
 */
export function bearerCheck(key: string | undefined): (authorization: string | undefined) => void {
  if (key === undefined) return () => undefined;
  const want = sha256(key);
  return (authorization) => {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (given === undefined || !timingSafeEqual(sha256(given), want)) {
      throw new UnauthenticatedError("Incorrect or missing API key: send Authorization: Bearer <key>", {
        reason: "invalid_api_key",
      });
    }
  };
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/** The JSON body of a request, refused with 415 (not JSON), 413 (over `limit` bytes) or 400 (malformed). */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = String(req.headers["content-type"] ?? "");
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpRequestError(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const tooLarge = () =>
    new HttpRequestError(413, "body_too_large", `the request body is larger than ${limit} bytes`);
  if (Number(req.headers["content-length"] ?? 0) > limit) throw tooLarge();
  const body = await collectBody(req, limit, tooLarge);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new HttpRequestError(400, "invalid_json", "the request body is not valid JSON", { cause: err });
  }
}

/**
 * Reads the body until `limit`; beyond it stops reading (without destroying the socket, so the 413
 * still reaches the client; the error boundary closes the connection after it).
 */
function collectBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off("data", onData);
      req.pause();
      reject(tooLarge());
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks)));
    req.once("error", reject);
  });
}
