/**
 * One speech interface over the providers that offer it (OpenAI, ElevenLabs): speech to text and
 * text to speech. The adapters live in openai-speech.ts and elevenlabs.ts; the speech module
 * chooses one per organisation and request.
 */

export type SpeechProviderName = "openai" | "elevenlabs";

/** Audio formats text to speech can answer in, by our names. */
export const TTS_FORMATS = ["mp3", "mp3_44100_128", "wav", "opus", "aac", "flac", "pcm_16000", "pcm_24000", "ulaw_8000"] as const;
export type TtsFormat = (typeof TTS_FORMATS)[number];

/** The `Content-Type` each format is served with. Raw PCM is 16-bit little-endian mono; u-law is G.711 at 8 kHz. */
export const TTS_CONTENT_TYPES: Record<TtsFormat, string> = {
  mp3: "audio/mpeg",
  mp3_44100_128: "audio/mpeg",
  wav: "audio/wav",
  opus: "audio/ogg; codecs=opus",
  aac: "audio/aac",
  flac: "audio/flac",
  pcm_16000: "audio/pcm; rate=16000",
  pcm_24000: "audio/pcm; rate=24000",
  ulaw_8000: "audio/basic",
};

export interface AudioInput {
  bytes: Uint8Array;
  /** A file name with an extension providers recognise, e.g. "audio.wav". */
  filename: string;
  mime: string;
}

export interface TranscribedWord {
  word: string;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
}

export interface Transcription {
  text: string;
  /** ISO 639 code when the provider says; null otherwise. */
  language: string | null;
  /** The audio's length as the provider measured it, when it says. */
  durationSeconds: number | null;
  words: TranscribedWord[] | null;
  model: string;
}

export interface TranscribeOptions {
  model: string;
  /** ISO 639-1 hint ("en"); omitted lets the provider detect it. */
  language?: string;
}

export interface SpeakOptions {
  model: string;
  voice: string;
  format: TtsFormat;
}

export interface SynthesizedSpeech {
  /** The audio as the provider sends it, not buffered: pass it on for a low time to first byte. */
  body: ReadableStream<Uint8Array>;
  contentType: string;
}

export interface SpeechProvider {
  readonly name: SpeechProviderName;
  /** Formats `speak` can produce. */
  readonly formats: readonly TtsFormat[];
  /** The variable whose absence disables the provider. */
  readonly keyVariable: string;
  readonly configured: boolean;
  transcribe(audio: AudioInput, options: TranscribeOptions): Promise<Transcription>;
  speak(text: string, options: SpeakOptions): Promise<SynthesizedSpeech>;
}
