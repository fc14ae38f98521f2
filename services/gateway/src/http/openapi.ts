import { z } from "zod";
import { ROLE_PERMISSIONS, ROLES } from "../identity/permissions.js";
import type { RouteDeclaration } from "./rbac.js";

type JsonObject = Record<string, unknown>;

const ERROR_RESPONSE = { $ref: "#/components/responses/Error" };

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as callers send it. */
function jsonSchema(schema: z.ZodType): JsonObject {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as JsonObject;
  return rest;
}

/** `/v1/admin/keys/:id` → `/v1/admin/keys/{id}`; a wildcard becomes `{path}`. */
export function openApiPath(url: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = url
    .split("/")
    .map((seg) => {
      if (seg.startsWith(":")) {
        params.push(seg.slice(1));
        return `{${seg.slice(1)}}`;
      }
      if (seg === "*") {
        params.push("path");
        return "{path}";
      }
      return seg;
    })
    .join("/");
  return { path, params };
}

/** Query parameters from an object schema's properties. */
function queryParameters(schema: z.ZodType): JsonObject[] {
  const s = jsonSchema(schema);
  const props = (s.properties ?? {}) as Record<string, JsonObject>;
  const required = new Set((s.required ?? []) as string[]);
  return Object.entries(props).map(([name, p]) => ({
    name,
    in: "query",
    required: required.has(name),
    schema: p,
    ...(typeof p.description === "string" ? { description: p.description } : {}),
  }));
}

const rolesWith = (permission: string) =>
  ROLES.filter((r) => (ROLE_PERMISSIONS[r] as readonly string[]).includes(permission));

function operation(route: RouteDeclaration, params: string[]): JsonObject {
  const doc = route.doc;
  const roles = rolesWith(route.permission);
  return {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.url)
      .path.split(/[/{}._-]+/)
      .filter(Boolean)
      .map((w) => w[0]?.toUpperCase() + w.slice(1))
      .join("")}`,
    summary: doc?.summary ?? `${route.method} ${route.url}`,
    description: `Needs the permission \`${route.permission}\` (roles: ${roles.join(", ")}).`,
    tags: [route.url.split("/")[2] ?? "v1"],
    "x-permission": route.permission,
    parameters: [
      ...params.map((name) => ({ name, in: "path", required: true, schema: { type: "string" } })),
      ...(doc?.query ? queryParameters(doc.query) : []),
    ],
    ...(doc?.body
      ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(doc.body) } } } }
      : {}),
    responses: {
      "200": { description: "Success" },
      "400": ERROR_RESPONSE,
      "401": ERROR_RESPONSE,
      "403": ERROR_RESPONSE,
      "429": ERROR_RESPONSE,
      default: ERROR_RESPONSE,
    },
  };
}

/**
 * The OpenAPI 3.1 document of the gateway, built from the routes as registered: each route's
 * permission and the zod schemas its handler parses, so the description cannot drift from the code.
 */
export function openApiDocument(routes: readonly RouteDeclaration[], info: { version: string }): JsonObject {
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    if (route.method === "HEAD") continue;
    const { path, params } = openApiPath(route.url);
    paths[path] ??= {};
    (paths[path] as Record<string, JsonObject>)[route.method.toLowerCase()] = operation(route, params);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "SloughGPT API",
      version: info.version,
      description:
        "OpenAI-compatible inference plus the platform's RAG, reasoning, training, usage and admin routes. " +
        "Errors always have OpenAI's shape; every response carries x-request-id.",
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An API key (sk-sg-…) or, where configured, an OIDC access token.",
        },
      },
      schemas: {
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["message", "type", "param", "code"],
              properties: {
                message: { type: "string" },
                type: { type: "string" },
                param: { type: ["string", "null"] },
                code: { type: ["string", "null"] },
              },
            },
          },
        },
      },
      responses: {
        Error: {
          description: "OpenAI's error shape",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        },
      },
    },
  };
}
