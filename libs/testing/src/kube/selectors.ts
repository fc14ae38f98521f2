/** Kubernetes label and field selectors, as the apiserver parses them, for the fake's list and watch. */

type Obj = { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } } & Record<
  string,
  unknown
>;
type Test = (labels: Record<string, string>) => boolean;

/** Splits on commas outside parentheses: `a in (x,y),b` is two requirements. */
function requirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(current.trim());
      current = "";
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

function requirement(text: string): Test {
  const set = /^(\S+)\s+(in|notin)\s+\((.*)\)$/.exec(text);
  if (set) {
    const values = set[3]!.split(",").map((v) => v.trim());
    const inSet = (l: Record<string, string>) => set[1]! in l && values.includes(l[set[1]!]!);
    return set[2] === "in" ? inSet : (l) => !inSet(l);
  }
  const cmp = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (cmp) {
    const [, key, op, value] = cmp as unknown as [string, string, string, string];
    return op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  if (text.startsWith("!")) return (l) => !(text.slice(1) in l);
  return (l) => text in l;
}

export function labelSelector(selector: string | null): (obj: Obj) => boolean {
  if (!selector) return () => true;
  const tests = requirements(selector).map(requirement);
  return (obj) => tests.every((t) => t(obj.metadata?.labels ?? {}));
}

function fieldValue(obj: Obj, path: string): string {
  let node: unknown = obj;
  for (const part of path.split(".")) {
    node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  }
  return node === undefined || node === null ? "" : String(node);
}

/** Equality field selectors on any dotted path (the real server allows a few per kind). */
export function fieldSelector(selector: string | null): (obj: Obj) => boolean {
  if (!selector) return () => true;
  const tests = requirements(selector).map((text) => {
    const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(text);
    if (!m) throw new Error(`unsupported field selector ${text}`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return op === "!="
      ? (o: Obj) => fieldValue(o, path) !== value
      : (o: Obj) => fieldValue(o, path) === value;
  });
  return (obj) => tests.every((t) => t(obj));
}
