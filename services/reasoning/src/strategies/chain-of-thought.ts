import type { ChatTurn } from "./llm.js";

const SYSTEM = [
  "You solve problems by reasoning step by step.",
  "Write your reasoning first, one step per line.",
  "Finish with a final line of the form 'Answer: <answer>'.",
].join(" ");

export function chainOfThoughtPrompt(problem: string): ChatTurn[] {
  return [
    { role: "system", content: SYSTEM },
    { role: "user", content: `${problem.trim()}\n\nLet's think step by step.` },
  ];
}

/**
 * Splits a completion into reasoning and answer: the text after the last "Answer:"
 * marker, or the last non-empty line when the model gave no marker.
 */
export function parseAnswer(completion: string): { reasoning: string; answer: string } {
  const re = /answer\s*[:：]/gi;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(completion); m; m = re.exec(completion)) last = m;
  if (last) {
    return {
      reasoning: completion.slice(0, last.index).trim(),
      answer: completion.slice(last.index + last[0].length).trim(),
    };
  }
  const lines = completion
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return { reasoning: lines.slice(0, -1).join("\n"), answer: lines.at(-1) ?? "" };
}
