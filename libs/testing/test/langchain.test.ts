import { jest } from "@jest/globals";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import OpenAI from "openai";
import { type Platform, startPlatform } from "../src/index.js";

// LangChain.js's OpenAI integrations pointed at the gateway, as an application would use them.
jest.setTimeout(120_000);

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform({ postgresAdminUrl: null });
});

afterAll(async () => {
  await platform?.stop();
});

const chat = (over: { apiKey?: string; streaming?: boolean } = {}) =>
  new ChatOpenAI({
    model: platform.modelId,
    apiKey: over.apiKey ?? platform.adminKey,
    configuration: { baseURL: `${platform.gatewayUrl}/v1` },
    temperature: 0,
    maxTokens: 8,
    maxRetries: 0,
    streaming: over.streaming ?? false,
  });

describe("LangChain.js against the gateway", () => {
  it("invokes ChatOpenAI and reports token usage", async () => {
    const msg = await chat().invoke([
      ["system", "Be brief."],
      ["human", "Tell me a story"],
    ]);
    expect(typeof msg.content).toBe("string");
    expect((msg.content as string).length).toBeGreaterThan(0);
    expect(msg.usage_metadata?.output_tokens).toBeGreaterThan(0);
  });

  it("streams the same text as the direct SDK call", async () => {
    let text = "";
    for await (const chunk of await chat({ streaming: true }).stream([["human", "Tell me about wings"]])) {
      text += chunk.content as string;
    }
    const sdk = new OpenAI({
      baseURL: `${platform.gatewayUrl}/v1`,
      apiKey: platform.adminKey,
      maxRetries: 0,
    });
    const direct = await sdk.chat.completions.create(
      {
        model: platform.modelId,
        messages: [{ role: "user", content: "Tell me about wings" }],
        max_tokens: 8,
        temperature: 0,
      },
      { headers: { "cache-control": "no-cache" } },
    );
    expect(text).toBe(direct.choices[0]?.message.content);
  });

  it("embeds documents and queries with OpenAIEmbeddings", async () => {
    const embeddings = new OpenAIEmbeddings({
      model: platform.modelId,
      apiKey: platform.adminKey,
      configuration: { baseURL: `${platform.gatewayUrl}/v1` },
      maxRetries: 0,
    });
    const docs = await embeddings.embedDocuments(["shock wave", "boundary layer"]);
    const query = await embeddings.embedQuery("boundary layer");
    expect(docs).toHaveLength(2);
    expect(Math.hypot(...query)).toBeCloseTo(1, 4);
    expect(query.map((x) => Math.round(x * 1e4))).toEqual((docs[1] ?? []).map((x) => Math.round(x * 1e4)));
  });

  it("surfaces a bad key as the SDK's typed 401 error", async () => {
    const err = await chat({ apiKey: "sk-sg-not-a-real-key-000000" })
      .invoke("hi")
      .catch((e: unknown) => e);
    // LangChain bundles its own copy of the openai SDK: same class, another module instance.
    expect((err as Error).constructor.name).toBe("AuthenticationError");
    expect(err).toMatchObject({ status: 401, code: "invalid_api_key" });
  });

  /** A key issued through the admin API, as a team's application would hold it. */
  async function issue(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${platform.gatewayUrl}/v1/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${platform.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ team: "app", ...body }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { key: string }).key;
  }

  it("surfaces a role without the permission as the SDK's typed 403 error", async () => {
    const apiKey = await issue({ name: "dashboards", role: "viewer" });
    const err = await chat({ apiKey })
      .invoke("hi")
      .catch((e: unknown) => e);
    expect((err as Error).constructor.name).toBe("PermissionDeniedError");
    expect(err).toMatchObject({ status: 403, code: "insufficient_permissions" });
  });

  it("surfaces a rate limit as the SDK's typed 429 error", async () => {
    const apiKey = await issue({ name: "tight", role: "consumer", rpm: 1 });
    // Both inside one minute unless the first lands in its last moments; then the third refuses.
    const outcomes = [];
    for (let i = 0; i < 3; i++) {
      outcomes.push(
        await chat({ apiKey })
          .invoke("hi")
          .then(() => "ok")
          .catch((e: unknown) => e),
      );
    }
    const refused = outcomes.find((o) => o !== "ok");
    expect((refused as Error).constructor.name).toBe("RateLimitError");
    expect(refused).toMatchObject({ status: 429, code: "rate_limit_exceeded" });
  });
});
