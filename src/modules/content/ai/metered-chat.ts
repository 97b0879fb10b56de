import type { ServiceCtx } from "../../../lib/context";
import { AppError, ProviderUnavailable } from "../../../lib/errors";
import { ProviderError } from "../../../providers/errors";
import { LLM_PROVIDER_LABELS } from "../../../providers/llm";
import { type ChatParams, type ChatResult, openai } from "../../../providers/openai";
import { requireOrgId } from "../../identity/auth/principal";
import { type CreditMeter, withCreditMeter } from "../../money/credits/meter";
import { creditsFor, lookupPrice } from "../../money/credits/prices";

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

export interface MeteredChatOptions {
  feature: string;
  model: string;
  estimate: TokenUsage;
  /**
   * A hold already open for a longer pipeline (audio chat): the completions are added to it and
   * nothing is held or settled here; `credits` and `balance` then say what this part cost and 0.
   */
  meter?: CreditMeter;
}

/**
 * Paid model work in three steps: hold the estimated credits (402, and no provider call, when
 * they are short), run `work` (any number of completions), then settle once with the tokens
 * actually used, whatever `work` ended with. A failure before any token was used releases the
 * hold; after, the tokens are still charged and the failure rethrown. Provider failures become
 * problems the caller understands (502, 503 when trying later may help, 504 on a timeout).
 */
export async function withMeteredChat<T>(ctx: ServiceCtx, options: MeteredChatOptions, work: (llm: MeteredChat) => Promise<T>): Promise<Metered<T>> {
  const orgId = requireOrgId(ctx);
  // Checked before holding credits: a missing key is our configuration, not the customer's spend.
  if (!ctx.config.openai.apiKey) throw new ProviderUnavailable("OPENAI_API_KEY");
  const client = openai(ctx.config);
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  const run = async (meter: CreditMeter) => {
    const before = meter.credits;
    const llm: MeteredChat = {
      async chat(params) {
        const result = await client.chat({ ...params, model: options.model });
        usage.inputTokens += result.usage.inputTokens;
        usage.outputTokens += result.usage.outputTokens;
        meter.add("openai", options.model, result.usage);
        return result;
      },
    };
    try {
      return { value: await work(llm), credits: meter.credits - before };
    } catch (error) {
      throw providerProblem(error);
    }
  };
  if (options.meter) {
    const { value, credits } = await run(options.meter);
    return { value, usage: { ...usage }, credits, balance: 0 };
  }
  const { price } = lookupPrice("openai", options.model);
  const metered = await withCreditMeter(
    ctx,
    { orgId, feature: options.feature, estimate: creditsFor(price, options.estimate) },
    async (meter) => (await run(meter)).value,
  );
  return { value: metered.value, usage: { ...usage }, credits: metered.credits, balance: metered.balance };
}

const PROVIDER_NAMES: Record<string, string> = { ...LLM_PROVIDER_LABELS, elevenlabs: "ElevenLabs" };

/**
 * A provider failure as the problem the caller sees; anything else unchanged. A provider that
 * says "later" (429, 503) is a 503 with its Retry-After; one that took too long is a 504; any
 * other refusal or breakage is a 502. The provider's status and code travel as extensions.
 */
export function providerProblem(error: unknown): unknown {
  if (!(error instanceof ProviderError)) return error;
  const name = PROVIDER_NAMES[error.provider] ?? error.provider;
  const extensions = { provider: error.provider, provider_status: error.status ?? null, provider_code: error.code ?? null };
  if (error.timedOut) {
    return new AppError(504, `${PROBLEMS}provider-timeout`, "Provider timeout", `${name} did not answer in time; try again`, undefined, undefined, extensions);
  }
  if (error.status === 429 || error.status === 503) {
    return new AppError(
      503,
      `${PROBLEMS}provider-unavailable`,
      "Provider unavailable",
      `${name} could not answer right now; try again later (${error.message})`,
      undefined,
      error.retryAfterSeconds ? { "Retry-After": String(error.retryAfterSeconds) } : undefined,
      extensions,
    );
  }
  const detail = error.status === undefined || error.status >= 500 ? `${name} failed: ${error.message}` : `${name} refused the request: ${error.message}`;
  return new AppError(502, `${PROBLEMS}provider-error`, "Provider error", detail, undefined, undefined, extensions);
}

const PROBLEMS = "https://billx.dev/problems/";
