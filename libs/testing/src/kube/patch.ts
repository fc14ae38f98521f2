/** The patch formats the apiserver accepts: RFC 7386 merge patch (strategic merge treated alike) and RFC 6902. */

type Json = unknown;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export class PatchTestFailed extends Error {}

const unescapePointer = (s: string) => s.replace(/~1/g, "/").replace(/~0/g, "~");

function parent(doc: Json, pointer: string): { node: Record<string, unknown> | unknown[]; key: string } {
  const parts = pointer.split("/").slice(1).map(unescapePointer);
  const key = parts.pop();
  if (key === undefined) throw new PatchTestFailed("the root cannot be patched");
  let node = doc as Record<string, unknown>;
  for (const p of parts) {
    const next = node[p];
    if (typeof next !== "object" || next === null)
      throw new PatchTestFailed(`path ${pointer} does not exist`);
    node = next as Record<string, unknown>;
  }
  return { node, key };
}

interface Op {
  op: "add" | "replace" | "remove" | "test";
  path: string;
  value?: Json;
}

function apply(doc: Json, { op, path, value }: Op): void {
  const { node, key } = parent(doc, path);
  if (Array.isArray(node)) {
    const i = key === "-" ? node.length : Number(key);
    if (op === "add") node.splice(i, 0, value);
    else if (op === "remove") node.splice(i, 1);
    else if (op === "replace") node[i] = value;
    else if (JSON.stringify(node[i]) !== JSON.stringify(value))
      throw new PatchTestFailed(`test failed at ${path}`);
    return;
  }
  if (op === "add" || op === "replace") node[key] = value;
  else if (op === "remove") delete node[key];
  else if (JSON.stringify(node[key]) !== JSON.stringify(value))
    throw new PatchTestFailed(`test failed at ${path}`);
}

export function jsonPatch(target: Json, ops: Op[]): Json {
  const doc = structuredClone(target);
  for (const op of ops) apply(doc, op);
  return doc;
}
