export interface ChatTurn {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface Completion {
  text: string;
  promptTokens: number;
  completionTokens: number;
}

/** What strategies need from serving; the gRPC client implements it. */
export interface Llm {
  chat(
    turns: ChatTurn[],
    opts: {
      model: string;
      maxTokens: number;
      keyId: string;
      team: string;
      requestId: string;
      signal: AbortSignal;
    },
  ): Promise<Completion>;
}
