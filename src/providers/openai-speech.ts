/**
 * OpenAI speech through the official SDK: `audio.transcriptions` (whisper-1 with word timings via
 * `verbose_json`; the gpt-4o transcribe models answer `json`, text only) and `audio.speech`
 * (tts-1, gpt-4o-mini-tts), whose body is passed on as it streams.
 */
import type { Config } from "../env";
import { ProviderUnavailable } from "../lib/errors";
import { loadOpenAiClient, toProviderError } from "./openai";
import type { SpeechProvider, TtsFormat } from "./speech";
import { TTS_CONTENT_TYPES } from "./speech";

/** Our format names → OpenAI's `response_format` (its `pcm` is 24 kHz). */
const FORMATS: Partial<Record<TtsFormat, "mp3" | "wav" | "opus" | "aac" | "flac" | "pcm">> = {
  mp3: "mp3",
  wav: "wav",
  opus: "opus",
  aac: "aac",
  flac: "flac",
  pcm_24000: "pcm",
};

export function openaiSpeech(config: Config): SpeechProvider {
  const client = async () => {
    if (!config.openai.apiKey) throw new ProviderUnavailable("OPENAI_API_KEY");
    // One retry: audio uploads are large, and the caller waits for the answer.
    return loadOpenAiClient(config.openai.apiKey, config.openai.baseUrl, { timeoutMs: config.speech.timeoutMs, maxRetries: 1 });
  };
  return {
    name: "openai",
    formats: Object.keys(FORMATS) as TtsFormat[],
    keyVariable: "OPENAI_API_KEY",
    configured: Boolean(config.openai.apiKey),

    async transcribe(audio, options) {
      try {
        const sdk = await client();
        const file = new File([audio.bytes], audio.filename, { type: audio.mime });
        const language = options.language ? { language: options.language } : {};
        if (options.model.startsWith("whisper")) {
          const result = await sdk.audio.transcriptions.create({
            file,
            model: options.model,
            response_format: "verbose_json",
            timestamp_granularities: ["word"],
            ...language,
          });
          return {
            text: result.text,
            language: result.language ? languageCode(result.language) : null,
            durationSeconds: result.duration ?? null,
            words: (result.words ?? []).map((w) => ({ word: w.word, start: w.start, end: w.end })),
            model: options.model,
          };
        }
        const result = await sdk.audio.transcriptions.create({ file, model: options.model, response_format: "json", ...language });
        return { text: result.text, language: options.language ?? null, durationSeconds: null, words: null, model: options.model };
      } catch (error) {
        throw toProviderError(error);
      }
    },

    async speak(text, options) {
      const format = FORMATS[options.format];
      if (!format) throw new RangeError(`OpenAI does not offer ${options.format}`);
      try {
        const response = await (await client()).audio.speech.create({ model: options.model, voice: options.voice, input: text, response_format: format });
        if (!response.body) throw new Error("speech response without a body");
        return { body: response.body as ReadableStream<Uint8Array>, contentType: TTS_CONTENT_TYPES[options.format] };
      } catch (error) {
        throw toProviderError(error);
      }
    },
  };
}

/** whisper's verbose_json names the language ("english"); the rest of the API speaks ISO 639-1. */
const LANGUAGE_CODES: Record<string, string> = {
  english: "en",
  spanish: "es",
  french: "fr",
  german: "de",
  italian: "it",
  portuguese: "pt",
  dutch: "nl",
  hindi: "hi",
  japanese: "ja",
  chinese: "zh",
  arabic: "ar",
  russian: "ru",
};

function languageCode(name: string): string {
  const lower = name.toLowerCase();
  return LANGUAGE_CODES[lower] ?? lower;
}
