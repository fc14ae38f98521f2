import os from "node:os";
import path from "node:path";
import { jest } from "@jest/globals";
import { BENCH_LLAMA_OPTIONS, ensureTinyModel } from "@sloughgpt/gguf";
import { type Platform, startPlatform } from "../src/index.js";

jest.setTimeout(120_000);

// One sequence and a one-slot queue on the 8-layer model, slow enough that requests overlap.
let platform: Platform;

beforeAll(async () => {
  const modelPath = path.join(os.tmpdir(), "sloughgpt-test-models", "bench-llama-q4_0.gguf");
  await ensureTinyModel(modelPath, { ...BENCH_LLAMA_OPTIONS, tensorType: "q4_0" });
  platform = await startPlatform({
    modelPath,
    extraEnv: { LLAMA_SEQUENCES: "1", MAX_QUEUE: "1", LLAMA_CONTEXT_SIZE: "512" },
  });
});

afterAll(async () => {
  await platform?.stop();
});

const chat = (maxTokens: number, signal?: AbortSignal) =>
  fetch(`${platform.gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${platform.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: platform.modelId,
      messages: [{ role: "user", content: "go" }],
      max_tokens: maxTokens,
      stream: true,
    }),
    ...(signal ? { signal } : {}),
  });

async function metric(name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${platform.ports.ops.serving}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return Number(line?.split(" ").at(-1) ?? 0);
}

describe("overload and cancellation", () => {
  it("refuses past the queue with 429, and a disconnected stream frees its sequence for the next", async () => {
    const first = new AbortController();
    const a = await chat(400, first.signal);
    const reader = a.body?.getReader();
    expect((await reader?.read())?.done).toBe(false);

    // The only sequence is busy: B waits in the queue's single slot, C is refused at once.
    const b = chat(5);
    let c = await chat(5);
    for (let i = 0; i < 20 && c.status !== 429; i++) {
      // B may not have reached serving's queue yet; retry until it has.
      await c.body?.cancel();
      await new Promise((r) => setTimeout(r, 50));
      c = await chat(5);
    }
    expect(c.status).toBe(429);
    expect(c.headers.get("retry-after")).toBe("1");
    expect(((await c.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");

    first.abort();
    const bRes = await b;
    expect(bRes.status).toBe(200);
    const bText = await bRes.text();
    expect(bText).toContain('"finish_reason":"length"');
    expect(bText.trim().endsWith("data: [DONE]")).toBe(true);

    // A stopped early (cancelled), and B ran on the sequence A gave back.
    expect(await metric("sloughgpt_serving_requests_total", 'status="cancelled"')).toBe(1);
    expect(await metric("sloughgpt_serving_generation_tokens_total")).toBeLessThan(400);
    expect(await metric("sloughgpt_serving_running_sequences")).toBe(0);
  });
});
