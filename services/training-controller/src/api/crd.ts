import { stringify } from "yaml";
import { z } from "zod";
import { GROUP, KIND, PLURAL, trainingJobSpec, trainingJobStatus, VERSION } from "./types.js";

type Json = Record<string, unknown>;

const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
const SAFE_MAX = Number.MAX_SAFE_INTEGER;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** zod's integer bounds become a format; only bounds the API actually sets remain. */
function integerFormat(node: Json): void {
  if (node.maximum === INT32_MAX && (node.minimum === undefined || (node.minimum as number) >= INT32_MIN)) {
    node.format = "int32";
    delete node.maximum;
    if (node.minimum === INT32_MIN) delete node.minimum;
  } else if (node.maximum === SAFE_MAX || node.minimum === -SAFE_MAX) {
    node.format = "int64";
    if (node.maximum === SAFE_MAX) delete node.maximum;
    if (node.minimum === -SAFE_MAX) delete node.minimum;
  }
}

/** int-or-string, as a structural schema allows it: the two types in anyOf, the checks beside them. */
function intOrString(node: Json): Json {
  const branches = (node.anyOf as Json[]).map((b) => structural(b) as Json);
  const out: Json = { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] };
  for (const branch of branches) {
    if (branch.minimum !== undefined) out.minimum = branch.minimum;
    if (branch.pattern !== undefined) out.pattern = branch.pattern;
  }
  return out;
}

const KEY_ORDER = ["description", "type", "format", "x-kubernetes-int-or-string", "anyOf", "enum"];

function ordered(node: Json): Json {
  const keys = Object.keys(node).sort((a, b) => {
    const ia = KEY_ORDER.indexOf(a);
    const ib = KEY_ORDER.indexOf(b);
    return (ia < 0 ? KEY_ORDER.length : ia) - (ib < 0 ? KEY_ORDER.length : ib);
  });
  return Object.fromEntries(keys.map((k) => [k, node[k]]));
}

/**
 * Turns zod's JSON Schema into a Kubernetes structural schema: no $schema or propertyNames, integer
 * formats instead of bounds, loose objects preserve unknown fields, date-times without zod's regex.
 */
function structural(input: unknown): unknown {
  if (Array.isArray(input)) return input.map(structural);
  if (!isObject(input)) return input;
  if (input["x-kubernetes-int-or-string"] === true) return intOrString(input);
  const node = Object.fromEntries(
    Object.entries(input)
      .filter(([key]) => key !== "$schema" && key !== "propertyNames")
      .map(([key, value]) => [key, key === "default" || key === "enum" ? value : structural(value)]),
  );
  if (node.type === "integer") integerFormat(node);
  if (node.format === "date-time") delete node.pattern;
  dropEmptyObjects(node);
  return ordered(node);
}

const isEmpty = (v: unknown): boolean => isObject(v) && Object.keys(v).length === 0;

/** `{}` as additionalProperties is zod's loose object: the apiserver's word for it is preserve-unknown. */
function dropEmptyObjects(node: Json): void {
  if (isEmpty(node.properties)) delete node.properties;
  if (isEmpty(node.additionalProperties)) {
    delete node.additionalProperties;
    node["x-kubernetes-preserve-unknown-fields"] = true;
  }
}

export function openApiSchema(schema: z.ZodType): Json {
  return structural(z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" })) as Json;
}

export const printerColumns = [
  { name: "Phase", type: "string", jsonPath: ".status.phase" },
  { name: "Nodes", type: "integer", jsonPath: ".spec.numNodes" },
  { name: "GPUs/node", type: "string", jsonPath: ".spec.resourcesPerNode.limits.nvidia\\.com/gpu" },
  { name: "Restarts", type: "integer", jsonPath: ".status.restarts" },
  { name: "Admission", type: "string", jsonPath: ".status.admission", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** The TrainingJob CustomResourceDefinition, generated from ./types.ts. */
export function trainingJobCrd(): Json {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}`, labels: { "app.kubernetes.io/part-of": "sloughgpt" } },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: KIND.toLowerCase(),
        shortNames: ["tj"],
        categories: ["sloughgpt"],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: {
            openAPIV3Schema: {
              description:
                "TrainingJob runs one training program on numNodes pods, admitted as a whole and restarted together on retryable failures.",
              type: "object",
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                metadata: { type: "object" },
                spec: openApiSchema(trainingJobSpec),
                status: openApiSchema(trainingJobStatus),
              },
            },
          },
        },
      ],
    },
  };
}

export const CRD_FILE = `${PLURAL}.${GROUP}.yaml`;

/** The file k8s/crds/ and charts/sloughgpt/crds/ both hold, byte for byte. */
export function renderCrdYaml(): string {
  const header = [
    "# Generated from services/training-controller/src/api/types.ts by",
    "# `pnpm --filter @sloughgpt/training-controller crd:gen`; do not edit by hand.",
    "",
  ].join("\n");
  return header + stringify(trainingJobCrd(), { lineWidth: 0 });
}
