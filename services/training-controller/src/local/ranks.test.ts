import { PassThrough } from "node:stream";
import { storedJob } from "../controller/testjob.js";
import { localRankEnv, prefixLines } from "./ranks.js";

describe("local ranks", () => {
  test("global ranks run node by node, local ranks within a node", () => {
    const job = storedJob({ numNodes: 2, procsPerNode: 3 });
    const ranks = [0, 1].flatMap((node) => [0, 1, 2].map((local) => localRankEnv(job, node, local)));
    expect(ranks.map((e) => e.RANK)).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(localRankEnv(job, 1, 2)).toEqual({
      RANK: "5",
      LOCAL_RANK: "2",
      LOCAL_WORLD_SIZE: "3",
      GROUP_RANK: "1",
    });
  });

  test("one process per node is rank = node index", () => {
    expect(localRankEnv(storedJob({ numNodes: 4 }), 3, 0)).toMatchObject({
      RANK: "3",
      LOCAL_WORLD_SIZE: "1",
    });
  });

  test("a local rank outside the node's processes is refused", () => {
    expect(() => localRankEnv(storedJob({ procsPerNode: 2 }), 0, 2)).toThrow(RangeError);
    expect(() => localRankEnv(storedJob({ procsPerNode: 2 }), 0, -1)).toThrow(RangeError);
  });

  test("prefixes whole lines, across chunk boundaries, and the last line without a newline", async () => {
    const source = new PassThrough();
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => {
      text += c.toString();
    });
    prefixLines(source, out, "[rank 1] ");
    source.write("step 1 lo");
    source.write("ss 2.0\nstep 2 loss 1.5\n");
    source.end("done");
    await new Promise((resolve) => source.on("end", resolve));
    expect(text).toBe("[rank 1] step 1 loss 2.0\n[rank 1] step 2 loss 1.5\n[rank 1] done\n");
  });

  test("a line that never ends is written once it grows past 64 KiB", () => {
    const source = new PassThrough();
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => {
      text += c.toString();
    });
    prefixLines(source, out, "> ");
    source.write("\r".repeat(70 * 1024));
    expect(text.length).toBeGreaterThan(64 * 1024);
    expect(text.startsWith("> ")).toBe(true);
  });
});
