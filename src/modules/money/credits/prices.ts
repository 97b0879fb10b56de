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
  /** Credits per generated image (Images API). */
  perImage?: number;
}

export type PriceSource = "exact" | "prefix" | "provider_default";

interface ProviderPrices {
  default: Price;
  models: Record<string, Price>;
  /**
   * Name prefixes of model families, consulted only as prefixes (they are no model one can pick):
   * a newer model of a family nobody listed yet is priced like the family's dearest listed one.
   */
  families?: Record<string, Price>;
}

export const PRICES: Record<string, ProviderPrices> = {
  openai: {
    // Unknown OpenAI models are charged like a large model rather than undercharged (an unknown image model like gpt-image-1's high quality).
    default: { inputPerMillionTokens: 3_000, outputPerMillionTokens: 12_000, perImage: 300 },
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
      // Images per image at the quality banners ask for (dall-e standard, gpt-image medium), plus
      // the 20% margin; `model@size` where a size costs more than the square one.
      "dall-e-3": { perImage: 48 }, // $0.04
      "dall-e-3@1792x1024": { perImage: 96 }, // $0.08
      "dall-e-3@1024x1792": { perImage: 96 },
      "dall-e-2": { perImage: 24 }, // $0.02
      "gpt-image-1": { perImage: 51 }, // $0.042
      "gpt-image-1@1536x1024": { perImage: 76 }, // $0.063
      "gpt-image-1@1024x1536": { perImage: 76 },
    },
  },
  // Chat models reached through each provider's OpenAI-compatible endpoint (the sales chatbot's
  // agents). List prices per million tokens (USD), times 1000, plus the same 20% margin as OpenAI's.
  anthropic: {
    // Unknown Claude models outside the families below: charged like Sonnet, Anthropic's mainstream model.
    default: { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 },
    models: {
      "claude-opus-4-7": { inputPerMillionTokens: 6_000, outputPerMillionTokens: 30_000 }, // $5 / $25
      "claude-opus-4-6": { inputPerMillionTokens: 6_000, outputPerMillionTokens: 30_000 },
      "claude-opus-4-5": { inputPerMillionTokens: 6_000, outputPerMillionTokens: 30_000 },
      "claude-opus-4-1": { inputPerMillionTokens: 18_000, outputPerMillionTokens: 90_000 }, // $15 / $75
      "claude-opus-4-0": { inputPerMillionTokens: 18_000, outputPerMillionTokens: 90_000 },
      "claude-sonnet-4-6": { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 }, // $3 / $15
      "claude-sonnet-4-5": { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 },
      "claude-sonnet-4": { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 },
      "claude-3-7-sonnet": { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 },
      "claude-haiku-4-5": { inputPerMillionTokens: 1_200, outputPerMillionTokens: 6_000 }, // $1 / $5
      "claude-3-5-haiku": { inputPerMillionTokens: 960, outputPerMillionTokens: 4_800 }, // $0.80 / $4
      "claude-3-haiku": { inputPerMillionTokens: 300, outputPerMillionTokens: 1_500 }, // $0.25 / $1.25
    },
    families: {
      // Opus has cost $5 / $25 since 4.5; only 4.0 and 4.1 kept the old $15 / $75.
      "claude-opus": { inputPerMillionTokens: 6_000, outputPerMillionTokens: 30_000 },
      "claude-opus-4-2025": { inputPerMillionTokens: 18_000, outputPerMillionTokens: 90_000 }, // claude-opus-4-20250514
      "claude-sonnet": { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 },
      "claude-haiku": { inputPerMillionTokens: 1_200, outputPerMillionTokens: 6_000 },
    },
  },
  google: {
    // Gemini's prices for prompts up to 200k tokens (longer ones cost more; the default covers them).
    default: { inputPerMillionTokens: 3_000, outputPerMillionTokens: 18_000 },
    models: {
      "gemini-3-pro-preview": { inputPerMillionTokens: 2_400, outputPerMillionTokens: 14_400 }, // $2 / $12
      "gemini-3-flash-preview": { inputPerMillionTokens: 600, outputPerMillionTokens: 3_600 }, // $0.50 / $3
      "gemini-2.5-pro": { inputPerMillionTokens: 1_500, outputPerMillionTokens: 12_000 }, // $1.25 / $10
      "gemini-2.5-flash": { inputPerMillionTokens: 360, outputPerMillionTokens: 3_000 }, // $0.30 / $2.50
      "gemini-2.5-flash-lite": { inputPerMillionTokens: 120, outputPerMillionTokens: 480 }, // $0.10 / $0.40
      "gemini-2.0-flash": { inputPerMillionTokens: 120, outputPerMillionTokens: 480 }, // $0.10 / $0.40
      "gemini-2.0-flash-lite": { inputPerMillionTokens: 90, outputPerMillionTokens: 360 }, // $0.075 / $0.30
    },
    families: {
      "gemini-3-pro": { inputPerMillionTokens: 2_400, outputPerMillionTokens: 14_400 },
      "gemini-3-flash": { inputPerMillionTokens: 600, outputPerMillionTokens: 3_600 }, // $0.50 / $3
    },
  },
  xai: {
    default: { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 },
    models: {
      "grok-4": { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 }, // $3 / $15
      "grok-4-fast-reasoning": { inputPerMillionTokens: 240, outputPerMillionTokens: 600 }, // $0.20 / $0.50
      "grok-4-fast-non-reasoning": { inputPerMillionTokens: 240, outputPerMillionTokens: 600 },
      "grok-4-1-fast-reasoning": { inputPerMillionTokens: 240, outputPerMillionTokens: 600 },
      "grok-4-1-fast-non-reasoning": { inputPerMillionTokens: 240, outputPerMillionTokens: 600 },
      "grok-code-fast-1": { inputPerMillionTokens: 240, outputPerMillionTokens: 1_800 }, // $0.20 / $1.50
      "grok-3": { inputPerMillionTokens: 3_600, outputPerMillionTokens: 18_000 }, // $3 / $15
      "grok-3-mini": { inputPerMillionTokens: 360, outputPerMillionTokens: 600 }, // $0.30 / $0.50
    },
    families: {
      // Without these the older fast variants would be priced as their cheaper namesakes.
      "grok-3-fast": { inputPerMillionTokens: 6_000, outputPerMillionTokens: 30_000 }, // $5 / $25
      "grok-3-mini-fast": { inputPerMillionTokens: 720, outputPerMillionTokens: 4_800 }, // $0.60 / $4
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

/**
 * The price of `model` at `provider`: exact, else the longest prefix among its models and
 * families, else the provider's default.
 */
export function lookupPrice(provider: string, modelName: string): PriceLookup {
  const prices = PRICES[provider];
  if (!prices) throw new Error(`no prices for provider ${provider}`);
  // Gemini's API also takes (and its compatible endpoint answers with) `models/gemini-...`.
  const model = provider === "google" ? modelName.replace(/^models\//, "") : modelName;
  const exact = prices.models[model];
  if (exact) return { price: exact, source: "exact" };
  const prefixes = { ...prices.families, ...prices.models };
  let best: string | undefined;
  for (const known of Object.keys(prefixes)) {
    if (model.startsWith(known) && (!best || known.length > best.length)) best = known;
  }
  if (best) return { price: prefixes[best] as Price, source: "prefix" };
  return { price: prices.default, source: "provider_default" };
}

/** A provider's chat models by name (priced per input and output token, no audio), as listed in the map. */
export function chatModelPrices(provider: string): { model: string; price: Price }[] {
  const prices = PRICES[provider];
  if (!prices) return [];
  return Object.entries(prices.models)
    .filter(([, price]) => price.inputPerMillionTokens !== undefined && price.outputPerMillionTokens !== undefined)
    .filter(([, price]) => price.perAudioSecond === undefined && price.perThousandCharacters === undefined)
    .map(([model, price]) => ({ model, price }));
}

/**
 * What `used` costs in US dollars at `price` (1 credit = USD 0.001), unrounded to whole credits:
 * six decimals, as text, so sums stay exact.
 */
export function costUsd(price: Price, used: Consumption): string {
  const micro = microCreditsFor(price, used);
  // micro-credits / 1e6 = credits; credits / 1000 = dollars; so dollars = micro / 1e9, kept to 6 decimals.
  return (Math.round(micro / 1000) / 1_000_000).toFixed(6);
}

export interface Consumption {
  inputTokens?: number;
  outputTokens?: number;
  audioSeconds?: number;
  characters?: number;
  images?: number;
}

// Each part is counted in millionths of a credit and rounded there, so a price such as 0.06
// (not exact in binary) cannot push a whole-credit total over the next integer.
const MICRO = 1_000_000;

/**
 * Credits for what a piece of work consumed: the parts summed, rounded up to a whole credit.
 * Any non-zero consumption therefore costs at least 1 credit.
 */
export function creditsFor(price: Price, used: Consumption): number {
  return Math.ceil(microCreditsFor(price, used) / MICRO);
}

/** Millionths of a credit that `used` costs at `price`. */
function microCreditsFor(price: Price, used: Consumption): number {
  return (
    Math.round((used.inputTokens ?? 0) * (price.inputPerMillionTokens ?? 0)) +
    Math.round((used.outputTokens ?? 0) * (price.outputPerMillionTokens ?? 0)) +
    Math.round((used.audioSeconds ?? 0) * (price.perAudioSecond ?? 0) * MICRO) +
    Math.round(((used.characters ?? 0) / 1000) * (price.perThousandCharacters ?? 0) * MICRO) +
    Math.round((used.images ?? 0) * (price.perImage ?? 0) * MICRO)
  );
}
