import type { ServiceCtx } from "../../../lib/context";
import { AppError, ProviderUnavailable } from "../../../lib/errors";
import { ProviderError } from "../../../providers/errors";
import { type ChatParams, type ChatResult, openai } from "../../../providers/openai";
import { requireOrgId } from "../../identity/auth/principal";
import { creditsFor, lookupPrice } from "../../money/credits/prices";
import { releaseReservation, reserveCredits, settleReservation } from "../../money/credits/reservations";
import { noteCreditsCharged } from "../../money/credits/usage";

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface MeteredChat {
  /** One completion with the metered model; its tokens count towards the one settlement. */
  chat(params: Omit<ChatParams, "model">): Promise<ChatResult>;
}

export interface Metered<T> {
  value: T;
  usage: TokenUsage;
  credits: number;
  balance: number;
}

/**
 * Paid model work in three steps: hold the estimated credits (402, and no provider call, when
 * they are short), run `work` (any number of completions), then settle once with the tokens
 * actually used, whatever `work` ended with. A failure before any token was used releases the
 * hold; after, the tokens are still charged and the failure rethrown. Provider failures become
 * problems the caller understands (502, or 503 when trying later may help).
 */
export async function withMeteredChat<T>(
  ctx: ServiceCtx,
  options: { feature: string; model: string; estimate: TokenUsage },
  work: (llm: MeteredChat) => Promise<T>,
): Promise<Metered<T>> {
  const orgId = requireOrgId(ctx);
  // Checked before holding credits: a missing key is our configuration, not the customer's spend.
  if (!ctx.config.openai.apiKey) throw new ProviderUnavailable("OPENAI_API_KEY");
  const { price, source } = lookupPrice("openai", options.model);
  const reservation = await reserveCredits(ctx, { orgId, amount: creditsFor(price, options.estimate), feature: options.feature });
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  const client = openai(ctx.config);
  const llm: MeteredChat = {
    async chat(params) {
      const result = await client.chat({ ...params, model: options.model });
      usage.inputTokens += result.usage.inputTokens;
      usage.outputTokens += result.usage.outputTokens;
      return result;
    },
  };

  const settle = async () => {
    const settlement = await settleReservation(ctx, reservation.id, creditsFor(price, usage), {
      provider: "openai",
      model: options.model,
      priceSource: source,
      ...usage,
    });
    noteCreditsCharged(ctx, settlement.charged);
    return settlement;
  };

  let value: T;
  try {
    value = await work(llm);
  } catch (error) {
    if (usage.inputTokens + usage.outputTokens > 0) {
      await settle();
    } else {
      await releaseReservation(ctx, reservation.id).catch((releaseError: unknown) =>
        // The hold expires and the reclaim job gives it back; the caller still hears the real cause.
        ctx.log.error("could not release a credit reservation", { reservation_id: reservation.id, error: releaseError }),
      );
    }
    throw providerProblem(error);
  }
  const settlement = await settle();
  return { value, usage: { ...usage }, credits: settlement.charged, balance: settlement.balance };
}

/** A provider failure as the problem the caller sees; anything else unchanged. */
export function providerProblem(error: unknown): unknown {
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
