import { formatDuration, retryAfterSeconds, WINDOW_MS, windowAt } from "./window.js";

describe("windows", () => {
  it.each([
    [0, 0],
    [59_999, 0],
    [60_000, 1],
    [Date.UTC(2030, 0, 1, 0, 1, 30), Date.UTC(2030, 0, 1, 0, 1) / WINDOW_MS],
  ])("puts %d ms in window %d, which spans one minute", (now, id) => {
    const w = windowAt(now);
    expect(w.id).toBe(id);
    expect(w.startMs).toBeLessThanOrEqual(now);
    expect(w.endMs).toBeGreaterThan(now);
    expect(w.endMs - w.startMs).toBe(60_000);
  });

  it.each([
    [0, 60],
    [30_000, 30],
    [58_500, 2],
    [59_999, 1],
  ])("asks a client refused at %d ms into the window to retry after %d s", (offset, seconds) => {
    const w = windowAt(Date.UTC(2030, 0, 1));
    expect(retryAfterSeconds(w, w.startMs + offset)).toBe(seconds);
  });

  it.each([
    [0, "0s"],
    [-5, "0s"],
    [0.4, "0s"],
    [1, "1ms"],
    [999, "999ms"],
    [1_000, "1s"],
    [1_500, "1.5s"],
    [59_999, "59.999s"],
    [60_000, "1m0s"],
    [90_500, "1m30.5s"],
    [3_600_000, "1h0m0s"],
  ])("writes %d ms as %s, as OpenAI's reset headers do", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
