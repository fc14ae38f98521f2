import { describe, expect, it } from "@jest/globals";
import { procStatusMemory } from "./memory.js";

const STATUS = [
  "Name:\tnode",
  "VmPeak:\t 1234568 kB",
  "VmHWM:\t  290200 kB",
  "VmRSS:\t  275500 kB",
  "RssAnon:\t  173500 kB",
  "RssFile:\t  102000 kB",
  "RssShmem:\t       0 kB",
  "Threads:\t11",
].join("\n");

describe("procStatusMemory", () => {
  it("reads VmRSS, VmHWM, RssAnon and RssFile in bytes, leaving look-alike lines alone", () => {
    expect(procStatusMemory(STATUS)).toEqual({
      rss: 275500 * 1024,
      peak: 290200 * 1024,
      anon: 173500 * 1024,
      file: 102000 * 1024,
    });
  });

  it("gives NaN for lines that are missing, as without /proc", () => {
    const memory = procStatusMemory("VmRSS:\t 10 kB\n");
    expect(memory.rss).toBe(10240);
    expect(memory.peak).toBeNaN();
    expect(procStatusMemory("").rss).toBeNaN();
  });
});
