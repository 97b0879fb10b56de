/**
 * Text to speech for the API and other modules: the chosen provider's audio, charged per thousand
 * characters. The hold is settled as soon as the provider starts answering, so the audio can be
 * passed on as it streams (time to first byte) without waiting for the end.
 */
import type { ServiceCtx } from "../../lib/context";
import { Unprocessable } from "../../lib/errors";
import type { SpeechProviderName, SynthesizedSpeech, TtsFormat } from "../../providers/speech";
import { providerProblem } from "../content/ai/metered-chat";
import { requireOrgId } from "../identity/auth/principal";
import { speechChoiceFor } from "../identity/org-settings/service";
import { type CreditMeter, withCreditMeter } from "../money/credits/meter";
import { creditsFor, lookupPrice } from "../money/credits/prices";
import { assertFormatOffered, configuredSpeechProvider } from "./providers";

export const TTS_FEATURE = "speech.tts";

export interface SpeechRequest {
  text: string;
  voice?: string;
  format?: TtsFormat;
  provider?: SpeechProviderName;
  model?: string;
}

export interface SpeechChoiceMade {
  provider: SpeechProviderName;
  model: string;
  voice: string;
  format: TtsFormat;
}

/** 422 on `text` when it is empty or over SPEECH_MAX_TEXT_CHARS (counted in characters, not bytes). */
export function checkSpeechText(ctx: ServiceCtx, text: string, path = "text"): void {
  const max = ctx.config.speech.maxTextChars;
  const length = [...text].length;
  if (text.trim().length === 0) throw new Unprocessable([{ path, message: "nothing to say" }]);
  if (length > max) throw new Unprocessable([{ path, message: `${length} characters; at most ${max}` }]);
}

/** Speaks `text` with a resolved choice and adds its characters to `meter`. */
export async function speakWith(ctx: ServiceCtx, meter: CreditMeter, text: string, choice: SpeechChoiceMade): Promise<SynthesizedSpeech> {
  const provider = configuredSpeechProvider(ctx.config, choice.provider);
  assertFormatOffered(provider, choice.format, "format");
  let speech: SynthesizedSpeech;
  try {
    speech = await provider.speak(text, { model: choice.model, voice: choice.voice, format: choice.format });
  } catch (error) {
    throw providerProblem(error);
  }
  meter.add(choice.provider, choice.model, { characters: [...text].length });
  return speech;
}

/** The provider, model, voice and format a request gets (its own, else the organisation's, else the defaults). */
export async function chooseSpeech(ctx: ServiceCtx, request: Omit<SpeechRequest, "text">): Promise<SpeechChoiceMade> {
  const choice = await speechChoiceFor(ctx, { provider: request.provider, tts_model: request.model, voice: request.voice });
  const made = { provider: choice.provider, model: choice.tts_model, voice: choice.voice, format: request.format ?? "mp3" };
  assertFormatOffered(configuredSpeechProvider(ctx.config, made.provider), made.format, "format");
  return made;
}

/** `POST /v1/tts`: the audio as the provider streams it, already charged. */
export async function synthesize(ctx: ServiceCtx, request: SpeechRequest): Promise<SynthesizedSpeech & { choice: SpeechChoiceMade; credits: number }> {
  const orgId = requireOrgId(ctx);
  checkSpeechText(ctx, request.text);
  const choice = await chooseSpeech(ctx, request);
  const estimate = creditsFor(lookupPrice(choice.provider, choice.model).price, { characters: [...request.text].length });
  const metered = await withCreditMeter(ctx, { orgId, feature: TTS_FEATURE, estimate }, (meter) => speakWith(ctx, meter, request.text, choice));
  return { ...metered.value, choice, credits: metered.credits };
}
