import { readFile } from "node:fs/promises";

/** Resident memory of one process, in bytes, as Linux reports it in /proc/<pid>/status. */
export interface Resident {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the most that was ever resident. */
  peak: number;
  /** RssAnon: heap, stacks and buffers the process allocated itself. */
  anon: number;
  /** RssFile: resident pages of mapped files, such as a memory-mapped model. */
  file: number;
}

const FIELDS = { rss: "VmRSS", peak: "VmHWM", anon: "RssAnon", file: "RssFile" } as const;

/** Reads the memory lines ("VmRSS:   1696 kB") of /proc/<pid>/status; NaN for a missing line. */
export function procStatusMemory(status: string): Resident {
  const kib = new Map<string, number>();
  for (const match of status.matchAll(/^(\w+):\s+(\d+) kB$/gm)) {
    kib.set(match[1] as string, Number(match[2]));
  }
  const bytes = (field: string) => 1024 * (kib.get(field) ?? Number.NaN);
  return {
    rss: bytes(FIELDS.rss),
    peak: bytes(FIELDS.peak),
    anon: bytes(FIELDS.anon),
    file: bytes(FIELDS.file),
  };
}

/** A process's resident memory; all NaN where /proc is missing (not Linux). */
export async function residentMemory(pid: number | "self" = "self"): Promise<Resident> {
  const text = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return procStatusMemory(text);
}
