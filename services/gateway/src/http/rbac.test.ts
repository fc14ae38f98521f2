import { createLogger } from "@sloughgpt/runtime";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { checkModelAccess, needs, requireRoutePermissions, UndeclaredPermissionError } from "./rbac.js";

const fastify = () =>
  Fastify({ loggerInstance: createLogger({ service: "test", level: "silent" }) as FastifyBaseLogger });

describe("route permission declarations", () => {
  it("refuses to register a route that declares no permission", () => {
    const app = fastify();
    requireRoutePermissions(app);
    expect(() => app.get("/v1/undeclared", async () => "x")).toThrow(UndeclaredPermissionError);
    expect(() =>
      app.post("/v1/typo", { config: { permission: "chat:craete" as "chat:create" } }, async () => "x"),
    ).toThrow(/declares no permission/);
  });

  it("records every declared route, HEAD included", async () => {
    const app = fastify();
    const declared = requireRoutePermissions(app);
    app.get("/v1/models", needs("models:read"), async () => "x");
    app.route({
      method: ["POST", "PUT"],
      url: "/v1/x",
      config: { permission: "rag:write" },
      handler: async () => "x",
    });
    await app.ready();
    expect(declared).toEqual(
      expect.arrayContaining([
        { method: "GET", url: "/v1/models", permission: "models:read" },
        { method: "HEAD", url: "/v1/models", permission: "models:read" },
        { method: "POST", url: "/v1/x", permission: "rag:write" },
        { method: "PUT", url: "/v1/x", permission: "rag:write" },
      ]),
    );
    await app.close();
  });
});

describe("checkModelAccess", () => {
  const limited = { models: ["tiny-llama", "org/big"] };
  const refusal = (fn: () => void) => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return (err as { reason?: string }).reason;
    }
  };

  it.each([
    [{ models: null }, "chat:create", { model: "anything" }, undefined],
    [limited, "chat:create", { model: "tiny-llama" }, undefined],
    [limited, "embeddings:create", { model: "org/big" }, undefined],
    [limited, "chat:create", { model: "other" }, "model_not_allowed"],
    [limited, "embeddings:create", { model: "other" }, "model_not_allowed"],
    [limited, "reasoning:create", { model: "other" }, "model_not_allowed"],
    // Missing or malformed: the route answers 400 itself, except reasoning, which would fall back.
    [limited, "chat:create", {}, undefined],
    [limited, "chat:create", { model: 3 }, undefined],
    [limited, "chat:create", undefined, undefined],
    [limited, "reasoning:create", { problem: "2+2" }, "model_not_allowed"],
    [limited, "reasoning:create", { model: "tiny-llama" }, undefined],
    // Routes that name no model are not limited by the allow-list.
    [limited, "rag:write", { model: "other" }, undefined],
    [limited, "models:read", undefined, undefined],
  ] as const)("%j on %s with %j → %s", (principal, permission, body, reason) => {
    expect(refusal(() => checkModelAccess(principal, permission, body))).toBe(reason);
  });
});
