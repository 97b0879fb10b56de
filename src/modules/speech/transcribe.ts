/**
 * Speech to text for the API and for other modules (audio chat, calls later): the upload is
 * recognised from its bytes and measured, refused when it is not audio or too long, then
 * transcribed by the chosen provider and charged per audio second.
 */
import type { ServiceCtx } from "../../lib/context";
import { AppError, PayloadTooLarge, Unprocessable, UnsupportedMediaType } from "../../lib/errors";
import type { AudioInput, SpeechProviderName, Transcription } from "../../providers/speech";
import { providerProblem } from "../content/ai/metered-chat";
import { requireOrgId } from "../identity/auth/principal";
import { speechChoiceFor } from "../identity/org-settings/service";
import { type CreditMeter, withCreditMeter } from "../money/credits/meter";
import { creditsFor, lookupPrice } from "../money/credits/prices";
import { AUDIO_MIME, type DeclaredRawAudio, inspectAudio } from "./audio-format";
import { rawToWav } from "./pcm";
import { configuredSpeechProvider } from "./providers";

export const STT_FEATURE = "speech.stt";

export interface TranscribeRequest {
  bytes: Uint8Array;
  /** Headerless audio the caller declares (`format=ulaw_8000`); containers are recognised anyway. */
  format?: DeclaredRawAudio;
  language?: string;
  provider?: SpeechProviderName;
  model?: string;
}

export interface TranscriptView {
  text: string;
  language: string | null;
  duration_s: number;
  provider: SpeechProviderName;
  model: string;
  words?: { word: string; start: number; end: number }[];
}

/** An upload checked and measured, ready for a provider. */
export interface CheckedAudio {
  input: AudioInput;
  /** Seconds, as measured from the bytes; null when the container does not say. */
  durationSeconds: number | null;
}

const EXTENSIONS: Record<string, string> = { wav: "wav", mp3: "mp3", ogg: "ogg", webm: "webm", m4a: "m4a" };
// A container without a stated duration is bounded by its size at a low speech bitrate (16 kbit/s).
const MIN_BYTES_PER_SECOND = 2000;

/**
 * The upload as a provider takes it: 413 when over the size or duration limit, 415 when it is
 * not audio or a kind not handled, 422 when it is empty or cut short. Raw u-law and PCM become WAV.
 * `path` names the form field in errors.
 */
export function checkAudio(ctx: ServiceCtx, bytes: Uint8Array, declared: DeclaredRawAudio | undefined, path: string): CheckedAudio {
  const { maxUploadBytes, maxAudioSeconds } = ctx.config.speech;
  if (bytes.length > maxUploadBytes) throw new PayloadTooLarge(maxUploadBytes);
  const audio = inspectAudio(bytes, declared);
  if (!audio.ok) {
    if (audio.reason === "not_audio" || audio.reason === "unsupported") {
      throw new UnsupportedMediaType([{ path, message: audio.message }], "Send WAV, MP3, OGG/Opus, WebM or M4A, or raw u-law 8 kHz with format=ulaw_8000");
    }
    throw new Unprocessable([{ path, message: audio.message }]);
  }
  if (audio.durationSeconds !== null && audio.durationSeconds > maxAudioSeconds) {
    throw new AppError(
      413,
      "https://billx.dev/problems/audio-too-long",
      "Audio too long",
      `The recording lasts ${audio.durationSeconds.toFixed(1)} s; at most ${maxAudioSeconds} s are accepted`,
      [{ path, message: `longer than ${maxAudioSeconds} s` }],
    );
  }
  const raw = EXTENSIONS[audio.format] === undefined;
  const input: AudioInput = raw
    ? { bytes: rawToWav(bytes, audio.format as DeclaredRawAudio), filename: "audio.wav", mime: "audio/wav" }
    : { bytes, filename: `audio.${EXTENSIONS[audio.format]}`, mime: AUDIO_MIME[audio.format] };
  return { input, durationSeconds: audio.durationSeconds };
}

/** Seconds to hold credits for before transcribing. */
export function billableSecondsEstimate(ctx: ServiceCtx, audio: CheckedAudio): number {
  return audio.durationSeconds ?? Math.min(ctx.config.speech.maxAudioSeconds, audio.input.bytes.length / MIN_BYTES_PER_SECOND);
}

/**
 * Transcribes checked audio with the chosen provider and adds the seconds to `meter`. The seconds
 * charged are the ones measured from the bytes, else the provider's, else the last word's end.
 */
export async function transcribeWith(
  ctx: ServiceCtx,
  meter: CreditMeter,
  audio: CheckedAudio,
  choice: { provider: SpeechProviderName; model: string; language?: string },
): Promise<TranscriptView> {
  const provider = configuredSpeechProvider(ctx.config, choice.provider);
  let result: Transcription;
  try {
    result = await provider.transcribe(audio.input, { model: choice.model, language: choice.language });
  } catch (error) {
    throw providerProblem(error);
  }
  const seconds = audio.durationSeconds ?? result.durationSeconds ?? result.words?.at(-1)?.end ?? billableSecondsEstimate(ctx, audio);
  meter.add(choice.provider, choice.model, { audioSeconds: seconds });
  return {
    text: result.text.trim(),
    language: result.language ?? choice.language ?? null,
    duration_s: Math.round(seconds * 1000) / 1000,
    provider: choice.provider,
    model: choice.model,
    ...(result.words ? { words: result.words } : {}),
  };
}

/** `POST /v1/stt`: one recording transcribed, held and charged per audio second. */
export async function transcribe(ctx: ServiceCtx, request: TranscribeRequest): Promise<TranscriptView & { usage: { credits: number } }> {
  const orgId = requireOrgId(ctx);
  const audio = checkAudio(ctx, request.bytes, request.format, "file");
  const choice = await speechChoiceFor(ctx, { provider: request.provider, stt_model: request.model });
  // Checked before holding credits: a missing key is our configuration, not the customer's spend.
  configuredSpeechProvider(ctx.config, choice.provider);
  const estimate = creditsFor(lookupPrice(choice.provider, choice.stt_model).price, { audioSeconds: billableSecondsEstimate(ctx, audio) });
  const metered = await withCreditMeter(ctx, { orgId, feature: STT_FEATURE, estimate }, (meter) =>
    transcribeWith(ctx, meter, audio, { provider: choice.provider, model: choice.stt_model, language: request.language }),
  );
  return { ...metered.value, usage: { credits: metered.credits } };
}
