import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const GENERATED_DIR = "libs/proto/src/generated";

/** buf lint, then buf generate (ts-proto, see buf.gen.yaml) into `outDir` (default: the committed folder). */
export function generate(outDir?: string): void {
  const buf = path.join(ROOT, "node_modules/.bin/buf");
  execFileSync(buf, ["lint"], { cwd: ROOT, stdio: "inherit" });
  const extra = outDir ? ["--output", outDir] : [];
  execFileSync(buf, ["generate", ...extra], { cwd: ROOT, stdio: "inherit" });
}
