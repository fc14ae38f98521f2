import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GENERATED_DIR, generate, ROOT } from "./generate.js";

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe("generated gRPC code", () => {
  // Generation runs protoc and the generator over every file: seconds on a busy machine.
  it("is exactly what `pnpm proto:gen` produces from proto/", async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), "protogen-"));
    try {
      generate(tmp);
      const out = path.join(tmp, GENERATED_DIR);
      const committed = path.join(ROOT, GENERATED_DIR);
      expect(await files(out)).toEqual(await files(committed));
      for (const f of await files(out)) {
        expect(await readFile(path.join(committed, f), "utf8")).toBe(
          await readFile(path.join(out, f), "utf8"),
        );
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
