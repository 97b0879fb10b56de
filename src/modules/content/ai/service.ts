import type { ServiceCtx } from "../../../lib/context";
import { DEFAULT_COMPLETION_MODEL } from "../../money/credits/prices";
import { withMeteredChat } from "./metered-chat";
import type { CompletionInput, CompletionView } from "./schemas";

export const COMPLETIONS_FEATURE = "ai.completions";
const DEFAULT_MAX_TOKENS = 512;
// Overhead OpenAI adds per message (role, separators), in tokens.
const TOKENS_PER_MESSAGE = 4;

/**
 * Prompt tokens, estimated before the call to size the hold: about 3 characters a token, which
 * overestimates English text (about 4) so the hold rarely falls short of the actual cost.
 */
export function estimatePromptTokens(messages: CompletionInput["messages"]): number {
  return messages.reduce((sum, message) => sum + Math.ceil(message.content.length / 3) + TOKENS_PER_MESSAGE, 0);
}

/**
 * One paid chat completion: hold the estimated credits (402 and no provider call when they are
 * short), call OpenAI, then settle with the actual token usage and record a usage event.
 */
export async function createCompletion(ctx: ServiceCtx, input: CompletionInput): Promise<CompletionView> {
  const model = input.model ?? DEFAULT_COMPLETION_MODEL;
  const maxTokens = input.max_tokens ?? DEFAULT_MAX_TOKENS;
  const estimate = { inputTokens: estimatePromptTokens(input.messages), outputTokens: maxTokens };
  const metered = await withMeteredChat(ctx, { feature: COMPLETIONS_FEATURE, model, estimate }, (llm) =>
    llm.chat({ messages: input.messages, max_completion_tokens: maxTokens }),
  );
  return {
    content: metered.value.content ?? "",
    model: metered.value.model,
    usage: { input_tokens: metered.usage.inputTokens, output_tokens: metered.usage.outputTokens },
    credits_charged: metered.credits,
    balance: metered.balance,
  };
}
