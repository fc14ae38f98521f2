import { InvalidArgumentError } from "@sloughgpt/runtime";
import type { ChatHistoryItem } from "node-llama-cpp";
import type { ChatTurn } from "./engine.js";

/**
 * Splits OpenAI-style turns into the history that precedes the last user message and
 * that message itself, which is what the chat session prompts with.
 */
export function toChatHistory(turns: ChatTurn[]): { history: ChatHistoryItem[]; prompt: string } {
  const last = turns.at(-1);
  if (last?.role !== "user") {
    throw new InvalidArgumentError("the last message must have role 'user'", { param: "messages" });
  }
  const history: ChatHistoryItem[] = turns.slice(0, -1).map((t) => {
    if (t.role === "system") return { type: "system", text: t.content };
    if (t.role === "user") return { type: "user", text: t.content };
    return { type: "model", response: [t.content] };
  });
  return { history, prompt: last.content };
}
