import { describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { answerPrompt, checkCitations } from "./citations.js";

describe("answer citations", () => {
  test("valid citations are kept and listed once, in order of first use", () => {
    expect(checkCitations("Lift rises [2], as [1] and [2][1] show.", 3)).toEqual({
      text: "Lift rises [2], as [1] and [2][1] show.",
      cited: [2, 1],
      invalid: [],
    });
  });

  test("citations of passages that were not retrieved are dropped and reported", () => {
    expect(checkCitations("See [4] and [0], but [1].", 3)).toEqual({
      text: "See  and , but [1].",
      cited: [1],
      invalid: [4, 0],
    });
  });

  test("whatever the text, every citation left in it names a retrieved passage", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.array(fc.integer({ min: 0, max: 30 })),
        fc.integer({ min: 0, max: 10 }),
        (s, ns, k) => {
          const answer = `${s}${ns.map((n) => `[${n}]`).join(" ")}`;
          const checked = checkCitations(answer, k);
          for (const m of checked.text.matchAll(/\[(\d{1,4})\]/g)) {
            const n = Number(m[1]);
            expect(n >= 1 && n <= k).toBe(true);
          }
          const all = new Set([...answer.matchAll(/\[(\d{1,4})\]/g)].map((m) => Number(m[1])));
          expect([...checked.cited, ...checked.invalid].sort()).toEqual([...all].sort());
        },
      ),
    );
  });

  test("the prompt numbers passages from 1 in retrieval order", () => {
    const [system, user] = answerPrompt("Why?", [{ text: "first" }, { text: "second" }]);
    expect(system?.role).toBe("system");
    expect(user?.content).toContain("[1] first\n\n[2] second");
    expect(user?.content).toMatch(/Question: Why\?$/);
  });
});
