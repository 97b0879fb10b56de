/**
 * What a call costs: its talk time at the Realtime model's audio price (the price the call's
 * credit hold was taken at, see the records service's `callCredits`), with the tokens every
 * `response.done` reported kept on the usage line.
 */
import type { PriceSource } from "../../money/credits/prices";
import { lookupPrice } from "../../money/credits/prices";
import type { UsageLine } from "../../money/credits/reservations";
import type { RealtimeUsage } from "./realtime-events";

/** One usage line for the call's Realtime model; none when the call cost nothing (no talk time). */
export function callUsageLines(model: string, usage: RealtimeUsage, audioSeconds: number, credits: number): UsageLine[] {
  if (audioSeconds <= 0 && credits <= 0) return [];
  const priceSource: PriceSource = lookupPrice("openai", model).source;
  return [{ provider: "openai", model, priceSource, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, audioSeconds, credits }];
}
