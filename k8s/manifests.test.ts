import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";

type Json = Record<string, unknown>;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const chartDir = path.join(root, "charts/sloughgpt");
const crdName = "trainingjobs.sloughgpt.io.yaml";

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFilesUnder(full);
    return /\.ya?ml$/.test(entry.name) ? [full] : [];
  });
}

/** Every document of a YAML file as plain JS; throws on the first syntax error. */
function readDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, "utf8")).map((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0];
    return doc.toJS();
  });
}

function readYaml(file: string): Json {
  const [doc] = readDocuments(file);
  if (!isObject(doc)) throw new Error(`${file} is not a YAML mapping`);
  return doc;
}

function relative(file: string): string {
  return path.relative(root, file);
}

/**
 * A Kubernetes structural schema as plain JSON Schema: x-kubernetes-* markers dropped, int-or-string
 * spelled out, and objects closed unless they preserve unknown fields, because the apiserver would
 * silently prune such fields (in an example that is a typo worth failing on).
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-kubernetes-")) continue;
    // `default` and `enum` hold data, not schemas.
    out[key] = key === "default" || key === "enum" ? value : toJsonSchema(value);
  }
  if (node["x-kubernetes-int-or-string"] === true && out.anyOf === undefined) {
    out.anyOf = [{ type: "integer" }, { type: "string" }];
  }
  const open = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (isObject(node.properties) && !open && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  ajv.addFormat("int32", {
    type: "number",
    validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31,
  });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat("date-time", {
    type: "string",
    validate: (s: string) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)),
  });
  return ajv;
}

function loadCrd(): Json {
  const crd = readYaml(path.join(root, "k8s/crds", crdName));
  if (crd.kind !== "CustomResourceDefinition") throw new Error(`${crdName} is a ${String(crd.kind)}`);
  return crd;
}

function crdVersion(crd: Json): Json {
  const spec = crd.spec as Json;
  const [version] = spec.versions as Json[];
  return version!;
}

function compileTrainingJobSchema(): ValidateFunction {
  const schema = (crdVersion(loadCrd()).schema as Json).openAPIV3Schema;
  return createAjv().compile(toJsonSchema(schema) as Json);
}

/** Every schema node under `node` that describes a value, with its path from the root. */
function schemaNodes(node: Json, at = ""): { at: string; node: Json }[] {
  const children: [string, unknown][] = [
    ...Object.entries(isObject(node.properties) ? node.properties : {}).map(
      ([key, child]) => [`${at}.${key}`, child] as [string, unknown],
    ),
    [`${at}[]`, node.items],
    [`${at}{}`, node.additionalProperties],
  ];
  return [
    { at: at || ".", node },
    ...children.flatMap(([childAt, child]) => (isObject(child) ? schemaNodes(child, childAt) : [])),
  ];
}

function examples(): { file: string; job: Json }[] {
  const dir = path.join(root, "k8s/examples");
  return yamlFilesUnder(dir).flatMap((file) =>
    readDocuments(file)
      .filter((doc): doc is Json => isObject(doc) && doc.kind === "TrainingJob")
      .map((job) => ({ file: relative(file), job })),
  );
}

describe("YAML files", () => {
  const files = [
    ...yamlFilesUnder(path.join(root, "k8s")),
    path.join(chartDir, "Chart.yaml"),
    path.join(chartDir, "values.yaml"),
    ...yamlFilesUnder(path.join(chartDir, "crds")),
    path.join(root, "skaffold.yaml"),
  ];

  test.each(files.map(relative))("%s parses", (file) => {
    expect(readDocuments(path.join(root, file)).length).toBeGreaterThan(0);
  });
});

describe("TrainingJob CRD", () => {
  const validate = compileTrainingJobSchema();

  test("the chart installs the same CRD file as k8s/crds", () => {
    const chartCrds = readdirSync(path.join(chartDir, "crds")).sort();
    expect(chartCrds).toEqual(readdirSync(path.join(root, "k8s/crds")).sort());
    for (const name of chartCrds) {
      const fromChart = readFileSync(path.join(chartDir, "crds", name));
      expect(fromChart.equals(readFileSync(path.join(root, "k8s/crds", name)))).toBe(true);
    }
  });

  test("serves sloughgpt.io/v1alpha1 TrainingJob, namespaced, as `tj`, with a status subresource", () => {
    const crd = loadCrd();
    const spec = crd.spec as Json;
    const names = spec.names as Json;
    const version = crdVersion(crd);
    expect(spec.group).toBe("sloughgpt.io");
    expect(spec.scope).toBe("Namespaced");
    expect(names).toMatchObject({ kind: "TrainingJob", plural: "trainingjobs", shortNames: ["tj"] });
    expect(version).toMatchObject({
      name: "v1alpha1",
      served: true,
      storage: true,
      subresources: { status: {} },
    });
    const columns = (version.additionalPrinterColumns as Json[]).map((c) => c.name);
    expect(columns).toEqual(["Phase", "Nodes", "GPUs/node", "Restarts", "Admission", "Age"]);
  });

  test("every field declares a type, as the apiserver requires of structural schemas", () => {
    const schema = (crdVersion(loadCrd()).schema as Json).openAPIV3Schema as Json;
    const untyped = schemaNodes(schema)
      .filter(({ node }) => node.type === undefined && node["x-kubernetes-int-or-string"] !== true)
      .map(({ at }) => at);
    expect(untyped).toEqual([]);
  });

  test("every default is a valid value of its own field", () => {
    const schema = (crdVersion(loadCrd()).schema as Json).openAPIV3Schema as Json;
    const ajv = createAjv();
    const invalidDefaults = schemaNodes(schema)
      .filter(({ node }) => node.default !== undefined)
      .filter(({ node }) => !ajv.validate(toJsonSchema(node) as Json, node.default))
      .map(({ at }) => at);
    expect(invalidDefaults).toEqual([]);
  });

  test("k8s/examples holds at least one TrainingJob per file", () => {
    const files = yamlFilesUnder(path.join(root, "k8s/examples")).map(relative);
    expect(files.length).toBeGreaterThan(0);
    expect(new Set(examples().map((e) => e.file))).toEqual(new Set(files));
  });

  test.each(examples().map((e) => [`${e.file} (${(e.job.metadata as Json).name})`, e.job] as const))(
    "example %s validates against the CRD schema",
    (_name, job) => {
      const valid = validate(job);
      expect(validate.errors ?? []).toEqual([]);
      expect(valid).toBe(true);
    },
  );

  const invalid: [string, string, (spec: Json) => void][] = [
    ["numNodes of 0", "/spec/numNodes", (spec) => Object.assign(spec, { numNodes: 0 })],
    ["no image", "/spec", (spec) => delete spec.image],
    ["an empty image", "/spec/image", (spec) => Object.assign(spec, { image: "" })],
    [
      "a negative maxRestarts",
      "/spec/failurePolicy/maxRestarts",
      (spec) => Object.assign(spec, { failurePolicy: { maxRestarts: -1 } }),
    ],
    [
      "a negative GPU count",
      "/spec/resourcesPerNode/limits/nvidia.com~1gpu",
      (spec) => Object.assign(spec, { resourcesPerNode: { limits: { "nvidia.com/gpu": -1 } } }),
    ],
    [
      "a negative quantity string",
      "/spec/resourcesPerNode/requests/memory",
      (spec) => Object.assign(spec, { resourcesPerNode: { requests: { memory: "-1Gi" } } }),
    ],
    ["procsPerNode of 0", "/spec/procsPerNode", (spec) => Object.assign(spec, { procsPerNode: 0 })],
    ["a misspelled field", "/spec", (spec) => Object.assign(spec, { numNode: 2 })],
    [
      "a relative checkpointDir",
      "/spec/checkpointDir",
      (spec) => Object.assign(spec, { checkpointDir: "ckpt" }),
    ],
  ];

  test.each(invalid)("rejects a TrainingJob with %s", (_what, errorPath, mutate) => {
    const job = structuredClone(examples()[0]!.job);
    mutate(job.spec as Json);
    expect(validate(job)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toContain(errorPath);
  });

  test("rejects a status phase outside the documented set", () => {
    const job = { ...structuredClone(examples()[0]!.job), status: { phase: "Exploded" } };
    expect(validate(job)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toContain("/status/phase");
  });
});

describe("Helm chart and images", () => {
  const values = readYaml(path.join(chartDir, "values.yaml"));
  const services = values.services as Record<string, Json>;
  const serviceNames = Object.keys(services);
  const templates = readdirSync(path.join(chartDir, "templates")).map((name) => ({
    name,
    text: readFileSync(path.join(chartDir, "templates", name), "utf8"),
  }));

  test("values.yaml deploys every package under services/ and nothing else", () => {
    const packages = readdirSync(path.join(root, "services"), { withFileTypes: true })
      .filter((e) => e.isDirectory() && existsSync(path.join(root, "services", e.name, "package.json")))
      .map((e) => e.name);
    expect([...serviceNames].sort()).toEqual(packages.sort());
  });

  test.each(serviceNames)("%s has a Dockerfile that exposes the ports values.yaml gives it", (name) => {
    const manifest = JSON.parse(readFileSync(path.join(root, "services", name, "package.json"), "utf8"));
    expect(manifest.name).toBe(`@sloughgpt/${name}`);
    const dockerfile = readFileSync(path.join(root, "services", name, "Dockerfile"), "utf8");
    const exposed = [...dockerfile.matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    // A port of 0 is off: neither the pod nor the Service opens it.
    const ports = Object.values(services[name]!.ports as Json)
      .filter((port) => port !== 0)
      .map(String);
    expect(exposed.sort()).toEqual(ports.sort());
    expect(dockerfile).toContain('CMD ["node", "--import", "tsx", "src/main.ts"]');
  });

  test("the training controller's ClusterRole grants every API call the controller makes", () => {
    const text = readFileSync(path.join(chartDir, "templates/training-controller-rbac.yaml"), "utf8");
    const rulesText = /\nrules:\n([\s\S]*?)\n---/.exec(text)?.[1];
    expect(rulesText).toBeDefined();
    const rules = parseAllDocuments(rulesText!)[0]!.toJS() as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }[];
    const allowed = (group: string, resource: string, verb: string) =>
      rules.some(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    const needed: [string, string, string[]][] = [
      ["sloughgpt.io", "trainingjobs", ["get", "list", "watch", "create", "patch", "delete"]],
      ["sloughgpt.io", "trainingjobs/status", ["update", "patch"]],
      ["", "pods", ["get", "list", "watch", "create", "delete"]],
      ["", "pods/log", ["get"]],
      ["", "services", ["get", "list", "watch", "create"]],
      ["", "events", ["create"]],
      ["coordination.k8s.io", "leases", ["get", "create", "update"]],
      ["", "nodes", ["list", "watch"]],
    ];
    const missing = needed.flatMap(([group, resource, verbs]) =>
      verbs.filter((v) => !allowed(group, resource, v)).map((v) => `${v} ${group || "core"}/${resource}`),
    );
    expect(missing).toEqual([]);
  });

  test("skaffold builds every service image from its Dockerfile", () => {
    const skaffold = readYaml(path.join(root, "skaffold.yaml"));
    const artifacts = (skaffold.build as Json).artifacts as Json[];
    const built = artifacts.map((a) => [a.image, (a.docker as Json).dockerfile]);
    expect(built).toEqual(
      expect.arrayContaining(
        serviceNames.map((name) => [`ghcr.io/sloughgpt/${name}`, `services/${name}/Dockerfile`]),
      ),
    );
    expect(built).toHaveLength(serviceNames.length);
  });

  /** Whether `segments` is a path of keys through `values`. */
  function hasPath(valuesRoot: unknown, segments: string[]): boolean {
    let node = valuesRoot;
    for (const segment of segments) {
      if (!isObject(node) || !(segment in node)) return false;
      node = node[segment];
    }
    return true;
  }

  test("templates read only .Values paths that values.yaml defines", () => {
    const missing = templates.flatMap(({ name, text }) =>
      [...text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)]
        .map((m) => m[1]!.slice(1))
        .filter((p) => !hasPath(values, p.split(".")))
        .map((p) => `${name}: .Values.${p}`),
    );
    expect(missing).toEqual([]);
  });

  // A nested read like $svc.ports.grpc fails to render when $svc has no `ports`, so every map on the
  // way must exist for every service; the last key only needs to exist for some service.
  test("templates read per-service values through maps that every service defines", () => {
    const problems = templates.flatMap(({ name, text }) =>
      [...text.matchAll(/[$.]svc((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].flatMap((m) => {
        const segments = m[1]!.slice(1).split(".");
        const parents = segments.slice(0, -1);
        const lacking = serviceNames.filter((s) => parents.length > 0 && !hasPath(services[s], parents));
        const definedSomewhere = serviceNames.some((s) => hasPath(services[s], segments));
        return [
          ...lacking.map((s) => `${name}: ${s} has no ${parents.join(".")}`),
          ...(definedSomewhere ? [] : [`${name}: no service defines ${segments.join(".")}`]),
        ];
      }),
    );
    expect(problems).toEqual([]);
  });
});
