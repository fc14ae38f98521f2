import { chainOfThoughtPrompt, parseAnswer } from "./chain-of-thought.js";

describe("chain of thought", () => {
  it("asks for step-by-step reasoning ending in an answer line", () => {
    const turns = chainOfThoughtPrompt("  What is 2+2? ");
    expect(turns.map((t) => t.role)).toEqual(["system", "user"]);
    expect(turns[0]?.content).toMatch(/Answer: <answer>/);
    expect(turns[1]?.content).toBe("What is 2+2?\n\nLet's think step by step.");
  });

  it.each([
    ["2 plus 2 is 4.\nAnswer: 4", "2 plus 2 is 4.", "4"],
    ["answer: maybe 3\nno wait\nANSWER : 5 apples", "answer: maybe 3\nno wait", "5 apples"],
    ["step one\nstep two\nfinal line", "step one\nstep two", "final line"],
    ["", "", ""],
    ["Answer:", "", ""],
  ])("parses %j", (completion, reasoning, answer) => {
    expect(parseAnswer(completion)).toEqual({ reasoning, answer });
  });
});
