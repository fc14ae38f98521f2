const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const HIDDEN = new Set(["level", "time", "msg", "service", "pid", "hostname"]);

/** One child log line for a terminal: `name | LEVEL message key=value…`. Non-JSON lines pass through. */
export function formatLogLine(name: string, line: string, width = 19): string {
  const prefix = `${name.padEnd(width)} |`;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${prefix} ${line}`;
  }
  if (typeof rec !== "object" || rec === null) return `${prefix} ${line}`;
  const level = LEVELS[Number(rec.level)] ?? String(rec.level ?? "");
  const extras = Object.entries(rec)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${prefix} ${level.padEnd(5)} ${String(rec.msg ?? "")}${extras ? ` ${extras}` : ""}`;
}
