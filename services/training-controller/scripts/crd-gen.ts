import { writeFileSync } from "node:fs";
import path from "node:path";
import { CRD_FILE, renderCrdYaml } from "../src/api/crd.js";

const root = path.resolve(import.meta.dirname, "../../..");
const text = renderCrdYaml();
for (const dir of ["k8s/crds", "charts/sloughgpt/crds"]) {
  writeFileSync(path.join(root, dir, CRD_FILE), text);
  console.log(`wrote ${dir}/${CRD_FILE}`);
}
