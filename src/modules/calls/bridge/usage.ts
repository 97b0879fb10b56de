/** What a call's model work costs: the tokens every `response.done` reported, priced per model. */
import { creditsFor, lookupPrice } from "../../money/credits/prices";
import type { UsageLine } from "../../money/credits/reservations";
import type { RealtimeUsage } from "./realtime-events";

/** One usage line for the Realtime model; none when it did no work (the call never reached it). */
export function callUsageLines(model: string, usage: RealtimeUsage): UsageLine[] {
  if (usage.inputTokens === 0 && usage.outputTokens === 0) return [];
  const { price, source } = lookupPrice("openai", model);
  const used = { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens };
  return [{ provider: "openai", model, priceSource: source, ...used, credits: creditsFor(price, used) }];
}

/**
 * Credits one more minute of talk is expected to cost, for extending the call's hold: the model
 * hears about 600 audio tokens a minute and speaks up to 1200 (1 per 100 ms in, 1 per 50 ms out).
 */
export function creditsPerCallMinute(model: string): number {
  const { price } = lookupPrice("openai", model);
  return Math.max(1, creditsFor(price, { inputTokens: 600, outputTokens: 1200 }));
}
