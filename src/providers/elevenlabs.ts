/**
 * ElevenLabs speech over its REST API (`xi-api-key` header): speech to text
 * (`POST /v1/speech-to-text`, multipart `file` + `model_id`, word timings) and text to speech
 * (`POST /v1/text-to-speech/{voice_id}/stream?output_format=…`, the audio passed on as it arrives).
 */
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import { providerFetch } from "./http";
import { type SpeechProvider, TTS_CONTENT_TYPES, type TtsFormat } from "./speech";

/** Our format names → ElevenLabs' `output_format`. */
const FORMATS: Partial<Record<TtsFormat, string>> = {
  mp3: "mp3_44100_128",
  mp3_44100_128: "mp3_44100_128",
  pcm_16000: "pcm_16000",
  pcm_24000: "pcm_24000",
  ulaw_8000: "ulaw_8000",
};

interface SttResponse {
  language_code?: string | null;
  text?: string;
  words?: { text: string; start?: number | null; end?: number | null; type?: string }[];
}

export function elevenLabsSpeech(config: Config): SpeechProvider {
  const { apiKey, baseUrl } = config.speech.elevenlabs;
  const key = () => {
    if (!apiKey) throw new ProviderUnavailable("ELEVENLABS_API_KEY");
    return apiKey;
  };
  const url = (path: string) => `${baseUrl.replace(/\/+$/, "")}${path}`;
  return {
    name: "elevenlabs",
    formats: Object.keys(FORMATS) as TtsFormat[],
    keyVariable: "ELEVENLABS_API_KEY",
    configured: Boolean(apiKey),

    async transcribe(audio, options) {
      const form = new FormData();
      form.set("model_id", options.model);
      form.set("file", new File([audio.bytes], audio.filename, { type: audio.mime }));
      form.set("timestamps_granularity", "word");
      if (options.language) form.set("language_code", options.language);
      const response = await providerFetch(
        "elevenlabs",
        url("/v1/speech-to-text"),
        { method: "POST", headers: { "xi-api-key": key() }, body: form },
        describeError,
        config.speech.timeoutMs,
      );
      const body = (await response.json()) as SttResponse;
      const words = (body.words ?? [])
        .filter((w) => (w.type ?? "word") === "word")
        .map((w) => ({ word: w.text, start: w.start ?? 0, end: w.end ?? w.start ?? 0 }));
      return {
        text: (body.text ?? "").trim(),
        language: body.language_code ? body.language_code.slice(0, 2) : null,
        durationSeconds: null,
        words,
        model: options.model,
      };
    },

    async speak(text, options) {
      const format = FORMATS[options.format];
      if (!format) throw new RangeError(`ElevenLabs does not offer ${options.format}`);
      const response = await providerFetch(
        "elevenlabs",
        url(`/v1/text-to-speech/${encodeURIComponent(options.voice)}/stream?output_format=${format}`),
        {
          method: "POST",
          headers: { "xi-api-key": key(), "content-type": "application/json", accept: TTS_CONTENT_TYPES[options.format] },
          body: JSON.stringify({ text, model_id: options.model }),
        },
        describeError,
        // Text to speech streams: this bounds the whole stream, not only its first byte.
        config.speech.timeoutMs,
      );
      if (!response.body) throw new Error("speech response without a body");
      return { body: response.body, contentType: TTS_CONTENT_TYPES[options.format] };
    },
  };
}

/** ElevenLabs errors: `{detail: {status, message}}`, or FastAPI's `{detail: [{msg, loc}]}` for a 422. */
function describeError(body: unknown, status: number): { message: string; code?: string } {
  const detail = body && typeof body === "object" ? (body as { detail?: unknown }).detail : undefined;
  if (detail && typeof detail === "object" && !Array.isArray(detail)) {
    const { status: code, message } = detail as { status?: string; message?: string };
    return { message: message ?? `HTTP ${status}`, code };
  }
  if (Array.isArray(detail)) {
    return { message: detail.map((d) => (d && typeof d === "object" ? String((d as { msg?: unknown }).msg ?? "") : String(d))).join("; ") || `HTTP ${status}` };
  }
  return { message: typeof detail === "string" ? detail : `HTTP ${status}` };
}
