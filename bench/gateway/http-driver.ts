import http from "node:http";
import { checkText, type Driver, WrongAnswerError } from "./driver.js";
import type { PathName } from "./report.js";

export interface HttpTarget {
  /** Base URL of an OpenAI-compatible API, without /v1. */
  url: string;
  /** Sent as a bearer token; serving's own API in the benchmark takes none. */
  apiKey?: string;
  body: Record<string, unknown>;
  /** The answer's text, the same on every path. */
  expected: string;
  /** Required `x-sloughgpt-cache` value: serving answered from its response cache. */
  cache: "hit";
}

/**
 * Non-streamed POST /v1/chat/completions over kept-alive node:http connections: the cheapest HTTP
 * client Node has, the same for every HTTP path, so client cost shifts none of them against another.
 */
export class HttpDriver implements Driver {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  private readonly payload: Buffer;
  private readonly endpoint: URL;

  constructor(
    readonly path: PathName,
    private readonly target: HttpTarget,
  ) {
    this.payload = Buffer.from(JSON.stringify(target.body));
    this.endpoint = new URL("/v1/chat/completions", target.url);
  }

  request(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers = {
        ...(this.target.apiKey ? { authorization: `Bearer ${this.target.apiKey}` } : {}),
        "content-type": "application/json",
        "content-length": this.payload.length,
      };
      const req = http.request(
        this.endpoint,
        { method: "POST", agent: this.agent, headers, signal },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            try {
              this.check(res, Buffer.concat(chunks).toString("utf8"));
              resolve();
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      req.on("error", reject);
      req.end(this.payload);
    });
  }

  private check(res: http.IncomingMessage, text: string): void {
    if (res.statusCode !== 200) {
      throw new WrongAnswerError(`the ${this.path} path answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
    const cache = res.headers["x-sloughgpt-cache"];
    if (cache !== this.target.cache) {
      throw new WrongAnswerError(
        `the ${this.path} path answered with x-sloughgpt-cache: ${cache ?? "(none)"}, not ${this.target.cache}`,
      );
    }
    const body = JSON.parse(text) as { choices?: { message?: { content?: string } }[] };
    checkText(this.path, body.choices?.[0]?.message?.content ?? "", this.target.expected);
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
