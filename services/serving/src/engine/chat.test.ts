import { InvalidArgumentError } from "@sloughgpt/runtime";
import { toChatHistory } from "./chat.js";

describe("toChatHistory", () => {
  it("prompts with the last user turn and keeps the rest as history", () => {
    expect(
      toChatHistory([
        { role: "system", content: "s" },
        { role: "user", content: "u1" },
        { role: "assistant", content: "a1" },
        { role: "user", content: "u2" },
      ]),
    ).toEqual({
      history: [
        { type: "system", text: "s" },
        { type: "user", text: "u1" },
        { type: "model", response: ["a1"] },
      ],
      prompt: "u2",
    });
  });

  it.each([
    [[]],
    [
      [
        { role: "user" as const, content: "q" },
        { role: "assistant" as const, content: "a" },
      ],
    ],
  ])("rejects a conversation that does not end with a user turn", (turns) => {
    expect(() => toChatHistory(turns)).toThrow(InvalidArgumentError);
  });
});
