import http from "node:http";
import type { AddressInfo } from "node:net";
import { SseWriter } from "./sse.js";

/** Serves one stream written by `script` and returns what a client reads, in order. */
async function serve(script: (sse: SseWriter, res: http.ServerResponse) => Promise<void>): Promise<string> {
  const server = http.createServer((_req, res) => {
    const sse = new SseWriter(res);
    sse.open({});
    void script(sse, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    return await res.text();
  } finally {
    server.close();
  }
}

describe("SseWriter", () => {
  it("frames events as data lines and ends with [DONE]", async () => {
    const text = await serve(async (sse) => {
      await sse.send({ a: 1 });
      sse.done();
    });
    expect(text).toBe('data: {"a":1}\n\ndata: [DONE]\n\n');
  });

  it("holds the closing events and sends them, in order, with [DONE]", async () => {
    let corked = -1;
    const text = await serve(async (sse, res) => {
      await sse.send({ delta: "x" });
      sse.hold();
      sse.hold();
      corked = res.writableCorked;
      await sse.send({ finish: "stop" });
      await sse.send({ usage: 3 });
      sse.done();
    });
    expect(corked).toBe(1);
    expect(text).toBe(
      'data: {"delta":"x"}\n\ndata: {"finish":"stop"}\n\ndata: {"usage":3}\n\ndata: [DONE]\n\n',
    );
  });
});
