import type { ServiceCtx } from "../../lib/context";
import { AppError, ProviderUnavailable } from "../../lib/errors";
import { ProviderError } from "../../providers/errors";
import { openai } from "../../providers/openai";
import { requireOrgId } from "../auth/principal";
import { creditsFor, DEFAULT_COMPLETION_MODEL, lookupPrice } from "../credits/prices";
import { releaseReservation, reserveCredits, settleReservation } from "../credits/reservations";
import { noteCreditsCharged } from "../credits/usage";
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
 * short), call OpenAI, then settle with the actual token usage and record a usage event. When
 * the provider fails, the hold is released and the provider's error answered (502, or 503 when
 * trying later may help).
 */
export async function createCompletion(ctx: ServiceCtx, input: CompletionInput): Promise<CompletionView> {
  const orgId = requireOrgId(ctx);
  // Checked before holding credits: a missing key is our configuration, not the customer's spend.
  if (!ctx.config.openai.apiKey) throw new ProviderUnavailable("OPENAI_API_KEY");
  const model = input.model ?? DEFAULT_COMPLETION_MODEL;
  const maxTokens = input.max_tokens ?? DEFAULT_MAX_TOKENS;
  const { price, source } = lookupPrice("openai", model);
  const estimate = creditsFor(price, { inputTokens: estimatePromptTokens(input.messages), outputTokens: maxTokens });
  const reservation = await reserveCredits(ctx, { orgId, amount: estimate, feature: COMPLETIONS_FEATURE });

  let result: Awaited<ReturnType<ReturnType<typeof openai>["chat"]>>;
  try {
    result = await openai(ctx.config).chat({ model, messages: input.messages, max_completion_tokens: maxTokens });
  } catch (error) {
    await releaseReservation(ctx, reservation.id).catch((releaseError: unknown) =>
      // The hold expires and the reclaim job gives it back; the caller still hears the real cause.
      ctx.log.error("could not release a credit reservation", { reservation_id: reservation.id, error: releaseError }),
    );
    throw providerProblem(error);
  }

  const usage = { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens };
  const settlement = await settleReservation(ctx, reservation.id, creditsFor(price, usage), {
    provider: "openai",
    model,
    priceSource: source,
    ...usage,
  });
  noteCreditsCharged(ctx, settlement.charged);
  return {
    content: result.content ?? "",
    model: result.model,
    usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
    credits_charged: settlement.charged,
    balance: settlement.balance,
  };
}

/** A provider failure as the problem the caller sees. */
function providerProblem(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  const extensions = { provider: error.provider, provider_status: error.status ?? null, provider_code: error.code ?? null };
  if (error.retryable) {
    return new AppError(
      503,
      "https://billx.dev/problems/provider-unavailable",
      "Provider unavailable",
      `OpenAI could not answer right now; try again later (${error.message})`,
      undefined,
      error.retryAfterSeconds ? { "Retry-After": String(error.retryAfterSeconds) } : undefined,
      extensions,
    );
  }
  return new AppError(
    502,
    "https://billx.dev/problems/provider-error",
    "Provider error",
    `OpenAI refused the request: ${error.message}`,
    undefined,
    undefined,
    extensions,
  );
}
