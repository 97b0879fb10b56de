/**
 * What paid work costs, in credits. 1 credit = USD 0.001 (a tenth of a cent), so a provider's
 * list price in dollars times 1000 is its price in credits: OpenAI's USD 0.15 per million input
 * tokens is 150 credits per million. Prices here carry our margin over the provider's cost.
 *
 * A price is looked up by provider and model: the exact model first, then the longest known
 * prefix (`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`), then the provider's default, so a
 * new model is never free. The source of the price is stored on each usage event.
 */
export interface Price {
  /** Credits per million input (prompt) tokens. */
  inputPerMillionTokens?: number;
  /** Credits per million output (completion) tokens. */
  outputPerMillionTokens?: number;
  /** Credits per second of audio (speech to text, text to speech, calls). */
  perAudioSecond?: number;
  /** Credits per thousand characters (text to speech). */
  perThousandCharacters?: number;
}

export type PriceSource = "exact" | "prefix" | "provider_default";

interface ProviderPrices {
  default: Price;
  models: Record<string, Price>;
}

export const PRICES: Record<string, ProviderPrices> = {
  openai: {
    // Unknown OpenAI models are charged like a large model rather than undercharged.
    default: { inputPerMillionTokens: 3_000, outputPerMillionTokens: 12_000 },
    models: {
      "gpt-4o": { inputPerMillionTokens: 3_000, outputPerMillionTokens: 12_000 },
      "gpt-4o-mini": { inputPerMillionTokens: 180, outputPerMillionTokens: 720 },
      "gpt-4.1": { inputPerMillionTokens: 2_400, outputPerMillionTokens: 9_600 },
      "gpt-4.1-mini": { inputPerMillionTokens: 480, outputPerMillionTokens: 1_920 },
      "gpt-4.1-nano": { inputPerMillionTokens: 120, outputPerMillionTokens: 480 },
      "gpt-4o-realtime": { inputPerMillionTokens: 6_000, outputPerMillionTokens: 24_000, perAudioSecond: 2 },
      // Without its own entry the mini realtime model would take gpt-4o-mini's text-only price and talk for free.
      "gpt-4o-mini-realtime": { inputPerMillionTokens: 720, outputPerMillionTokens: 2_880, perAudioSecond: 0.6 },
      "gpt-realtime": { inputPerMillionTokens: 4_800, outputPerMillionTokens: 19_200, perAudioSecond: 2 },
      "gpt-realtime-mini": { inputPerMillionTokens: 720, outputPerMillionTokens: 2_880, perAudioSecond: 0.6 },
      "gpt-4o-mini-transcribe": { perAudioSecond: 0.06 },
      "gpt-4o-mini-tts": { perThousandCharacters: 18 },
      "whisper-1": { perAudioSecond: 0.12 },
      // Embeddings are billed on input only (USD 0.13 and 0.02 per million tokens, plus our margin).
      "text-embedding-3-large": { inputPerMillionTokens: 156 },
      "text-embedding-3-small": { inputPerMillionTokens: 24 },
      "tts-1": { perThousandCharacters: 18 },
    },
  },
  elevenlabs: {
    default: { perThousandCharacters: 360 },
    models: {
      eleven_flash_v2_5: { perThousandCharacters: 180 },
      eleven_multilingual_v2: { perThousandCharacters: 360 },
      scribe_v1: { perAudioSecond: 0.12 },
    },
  },
};

/** The model `POST /v1/ai/completions` uses when the request names none. */
export const DEFAULT_COMPLETION_MODEL = "gpt-4o-mini";

export interface PriceLookup {
  price: Price;
  source: PriceSource;
}

/** The price of `model` at `provider`: exact, else longest prefix, else the provider's default. */
export function lookupPrice(provider: string, model: string): PriceLookup {
  const prices = PRICES[provider];
  if (!prices) throw new Error(`no prices for provider ${provider}`);
  const exact = prices.models[model];
  if (exact) return { price: exact, source: "exact" };
  let best: string | undefined;
  for (const known of Object.keys(prices.models)) {
    if (model.startsWith(known) && (!best || known.length > best.length)) best = known;
  }
  if (best) return { price: prices.models[best] as Price, source: "prefix" };
  return { price: prices.default, source: "provider_default" };
}

export interface Consumption {
  inputTokens?: number;
  outputTokens?: number;
  audioSeconds?: number;
  characters?: number;
}

// Each part is counted in millionths of a credit and rounded there, so a price such as 0.06
// (not exact in binary) cannot push a whole-credit total over the next integer.
const MICRO = 1_000_000;

/**
 * Credits for what a piece of work consumed: the parts summed, rounded up to a whole credit.
 * Any non-zero consumption therefore costs at least 1 credit.
 */
export function creditsFor(price: Price, used: Consumption): number {
  const micro =
    Math.round((used.inputTokens ?? 0) * (price.inputPerMillionTokens ?? 0)) +
    Math.round((used.outputTokens ?? 0) * (price.outputPerMillionTokens ?? 0)) +
    Math.round((used.audioSeconds ?? 0) * (price.perAudioSecond ?? 0) * MICRO) +
    Math.round(((used.characters ?? 0) / 1000) * (price.perThousandCharacters ?? 0) * MICRO);
  return Math.ceil(micro / MICRO);
}
