import { CliError, type Credentials } from "./config.js";

/** An OpenAI-shaped error from the gateway, kept whole for --json output. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly body: { error?: { message?: string; code?: string | null; type?: string } },
  ) {
    const e = body.error;
    super(`${e?.message ?? `HTTP ${status}`}${e?.code ? ` (${e.code})` : ""}`);
    this.name = "ApiError";
  }
}

export interface Api {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The raw response of a streamed call, after checking its status. */
  stream(path: string, body: unknown, signal?: AbortSignal): Promise<Response>;
}

export function createApi(c: Credentials, fetchImpl: typeof fetch = fetch): Api {
  const headers = (json: boolean) => ({
    authorization: `Bearer ${c.apiKey}`,
    ...(json ? { "content-type": "application/json" } : {}),
  });
  const call = async (method: string, path: string, body: unknown, signal?: AbortSignal) => {
    let res: Response;
    try {
      res = await fetchImpl(`${c.url}${path}`, {
        method,
        headers: headers(body !== undefined),
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new CliError(`cannot reach ${c.url}${cause ? ` (${cause})` : ""}`);
    }
    if (!res.ok) {
      const text = await res.text();
      let parsed: ConstructorParameters<typeof ApiError>[1] = {};
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { error: { message: text.slice(0, 200) || `HTTP ${res.status}` } };
      }
      throw new ApiError(res.status, parsed);
    }
    return res;
  };
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await call(method, path, body);
      const type = res.headers.get("content-type") ?? "";
      return (type.includes("json") ? await res.json() : await res.text()) as T;
    },
    stream: (path, body, signal) => call("POST", path, body, signal),
  };
}

/** The `data:` payloads of a server-sent event stream, up to `[DONE]`. */
export async function* sseData(res: Response): AsyncGenerator<string> {
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data === "[DONE]") return;
      if (data) yield data;
      end = buffer.indexOf("\n\n");
    }
  }
}
