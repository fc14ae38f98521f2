import fc from "fast-check";
import {
  DAY_MS,
  isWholeDays,
  parseBound,
  parseInstant,
  periodBounds,
  splitRange,
  utcDay,
} from "./periods.js";

const iso = (ms: number) => new Date(ms).toISOString();
const at = (s: string) => Date.parse(s);

describe("periodBounds", () => {
  it.each([
    ["daily", "2024-02-29T23:59:59.999Z", "2024-02-29T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
    ["daily", "2024-03-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z", "2024-03-02T00:00:00.000Z"],
    ["monthly", "2024-02-10T12:00:00Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
    ["monthly", "2024-12-31T23:59:59.999Z", "2024-12-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"],
    // A local time just after midnight UTC+2 is still the previous UTC day and month.
    ["monthly", "2024-07-01T01:30:00+02:00", "2024-06-01T00:00:00.000Z", "2024-07-01T00:00:00.000Z"],
  ] as const)("%s at %s is [%s, %s)", (period, when, start, end) => {
    const b = periodBounds(period, at(when));
    expect([iso(b.start), iso(b.end)]).toEqual([start, end]);
  });

  it("always contains the instant, on UTC midnights", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.boolean(), (ms, daily) => {
        const b = periodBounds(daily ? "daily" : "monthly", ms);
        return b.start <= ms && ms < b.end && isWholeDays(b.start, b.end);
      }),
    );
  });
});

describe("parseBound", () => {
  it("reads a date as a whole UTC day: from its midnight, to the next", () => {
    expect(iso(parseBound("2024-02-29", "from") as number)).toBe("2024-02-29T00:00:00.000Z");
    expect(iso(parseBound("2024-02-29", "to") as number)).toBe("2024-03-01T00:00:00.000Z");
  });

  it("reads an RFC 3339 instant as itself, offsets included", () => {
    expect(iso(parseBound("2024-05-01T10:00:00+02:00", "to") as number)).toBe("2024-05-01T08:00:00.000Z");
  });

  it.each(["2023-02-29", "2024-13-01", "2024-5-1", "yesterday", "2024-05-01T10:00:00", "1714557600000", ""])(
    "refuses %j",
    (v) => {
      expect(parseBound(v, "from")).toBeUndefined();
    },
  );

  it("round-trips any instant", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 253_402_300_799_999 }),
        (ms) => parseBound(iso(ms), "from") === ms,
      ),
    );
  });

  it("parseInstant takes instants only", () => {
    expect(parseInstant("2024-05-01")).toBeUndefined();
    expect(parseInstant("2024-05-01T00:00:00Z")).toBe(at("2024-05-01T00:00:00Z"));
  });
});

describe("splitRange", () => {
  it("answers whole days from rollups and the partial edges from raw records", () => {
    const plan = splitRange(at("2024-05-01T18:00:00Z"), at("2024-05-04T06:00:00Z"));
    expect(plan.days).toEqual({ from: "2024-05-02", to: "2024-05-04" });
    expect(plan.raw.map((r) => [iso(r.from), iso(r.to)])).toEqual([
      ["2024-05-01T18:00:00.000Z", "2024-05-02T00:00:00.000Z"],
      ["2024-05-04T00:00:00.000Z", "2024-05-04T06:00:00.000Z"],
    ]);
  });

  it("uses rollups alone for whole days, raw records alone inside one day", () => {
    expect(splitRange(at("2024-05-01T00:00:00Z"), at("2024-05-31T00:00:00Z"))).toEqual({
      days: { from: "2024-05-01", to: "2024-05-31" },
      raw: [],
    });
    const inside = splitRange(at("2024-05-01T01:00:00Z"), at("2024-05-01T02:00:00Z"));
    expect(inside.days).toBeUndefined();
    expect(inside.raw).toHaveLength(1);
  });

  it("covers [from, to) exactly once, reading at most two partial days of raw records", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.integer({ min: 1, max: 40 * DAY_MS }),
        (from, len) => {
          const to = from + len;
          const plan = splitRange(from, to);
          const spans = [...plan.raw];
          if (plan.days) spans.push({ from: Date.parse(plan.days.from), to: Date.parse(plan.days.to) });
          spans.sort((a, b) => a.from - b.from);
          const contiguous = spans.every((s, i) => i === 0 || s.from === (spans[i - 1] as { to: number }).to);
          const rawMs = plan.raw.reduce((n, r) => n + (r.to - r.from), 0);
          return (
            contiguous &&
            spans[0]?.from === from &&
            spans.at(-1)?.to === to &&
            rawMs < 2 * DAY_MS &&
            plan.raw.length <= 2
          );
        },
      ),
    );
  });
});

describe("utcDay", () => {
  it("names the UTC day, whatever the process time zone", () => {
    expect(utcDay(at("2024-06-01T00:59:59.999+01:00"))).toBe("2024-05-31");
  });
});
