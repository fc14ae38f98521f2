import { reasoning } from "@sloughgpt/proto";
import { type Logger, type Metrics, unary } from "@sloughgpt/runtime";
import { z } from "zod";
import { chainOfThoughtPrompt, parseAnswer } from "./strategies/chain-of-thought.js";
import type { Llm } from "./strategies/llm.js";

const solveRequest = z.object({
  problem: z.string().min(1, "problem is required").max(20_000),
  model: z.string(),
  strategy: z.union(
    [
      z.literal(reasoning.Strategy.STRATEGY_UNSPECIFIED),
      z.literal(reasoning.Strategy.STRATEGY_CHAIN_OF_THOUGHT),
    ],
    { error: "unsupported strategy" },
  ),
  maxTokens: z.number().int().min(0).max(8192),
  keyId: z.string(),
  team: z.string().default(""),
  requestId: z.string(),
});

export function reasoningHandlers(deps: {
  llm: Llm;
  defaultModel: string;
  logger: Logger;
  metrics: Metrics;
}) {
  const env = { logger: deps.logger, metrics: deps.metrics, service: "ReasoningService" };
  const impl: reasoning.ReasoningServiceServer = {
    solve: unary<reasoning.SolveRequest, reasoning.SolveResponse>(env, "Solve", async (raw, ctx) => {
      const req = solveRequest.parse(raw);
      const completion = await deps.llm.chat(chainOfThoughtPrompt(req.problem), {
        model: req.model || deps.defaultModel,
        maxTokens: req.maxTokens || 256,
        keyId: req.keyId,
        team: req.team,
        requestId: req.requestId,
        signal: ctx.signal,
      });
      const { reasoning: steps, answer } = parseAnswer(completion.text);
      return {
        answer,
        reasoning: steps,
        strategy: reasoning.Strategy.STRATEGY_CHAIN_OF_THOUGHT,
        promptTokens: completion.promptTokens,
        completionTokens: completion.completionTokens,
      };
    }),
  };
  return impl;
}
