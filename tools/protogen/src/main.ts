// Regenerates libs/proto/src/generated from proto/ (buf lint + buf generate with ts-proto).
// The output is committed and never edited by hand.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const out = outIndex >= 0 ? args[outIndex + 1] : undefined;

export function generate(outDir?: string): void {
  const buf = path.join(root, "node_modules/.bin/buf");
  execFileSync(buf, ["lint"], { cwd: root, stdio: "inherit" });
  const extra = outDir ? ["--output", outDir] : [];
  execFileSync(buf, ["generate", ...extra], { cwd: root, stdio: "inherit" });
}

generate(out);
