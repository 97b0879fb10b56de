import { z } from "@hono/zod-openapi";
import { TTS_FORMATS } from "../../providers/speech";

const NO_NUL = (value: string) => !value.includes("\u0000");
const Provider = z.enum(["openai", "elevenlabs"]).optional().openapi({ description: "Speech provider (default: the organisation's)", example: "openai" });
const Id = (description: string, example: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine(NO_NUL, "Must not contain NUL characters")
    .regex(/^[\w.:/-]+$/, "Letters, digits and . _ - : / only")
    .optional()
    .openapi({ description, example });
const Language = z
  .string()
  .regex(/^[a-z]{2,3}$/, "An ISO 639 code such as en")
  .optional()
  .openapi({ description: "Language spoken, ISO 639-1 (default: detected)", example: "en" });
const DeclaredFormat = z.enum(["ulaw_8000", "pcm_8000", "pcm_16000", "pcm_24000"]).optional().openapi({
  description: "Only for headerless audio: raw G.711 u-law 8 kHz or 16-bit PCM. Files with a header are recognised from their bytes.",
  example: "ulaw_8000",
});
const AudioFile = z.any().openapi({ type: "string", format: "binary", description: "The recording: WAV, MP3, OGG/Opus, WebM or M4A (or raw with `format`)" });

export const SttForm = z
  .object({
    file: AudioFile,
    format: DeclaredFormat,
    language: Language,
    provider: Provider,
    model: Id("Speech-to-text model (default: the organisation's)", "whisper-1"),
  })
  .openapi("SpeechToTextUpload");

const Word = z.object({ word: z.string(), start: z.number().openapi({ description: "Seconds from the start" }), end: z.number() }).openapi("TranscribedWord");

export const TranscriptSchema = z
  .object({
    text: z.string().openapi({ description: "What was said; empty for silence", example: "Please show me the total revenue for last month." }),
    language: z.string().nullable().openapi({ description: "Language, when known", example: "en" }),
    duration_s: z.number().openapi({ description: "Seconds of audio charged", example: 3.015 }),
    provider: z.enum(["openai", "elevenlabs"]).openapi({ example: "openai" }),
    model: z.string().openapi({ example: "whisper-1" }),
    words: z.array(Word).optional().openapi({ description: "Words with timings, when the model gives them" }),
    usage: z.object({ credits: z.number().int().openapi({ example: 1 }) }),
  })
  .openapi("Transcript");

export const TtsBody = z
  .object({
    text: z
      .string()
      .refine(NO_NUL, "Must not contain NUL characters")
      .openapi({ description: "What to say (at most SPEECH_MAX_TEXT_CHARS characters)", example: "Your table is booked for seven." }),
    voice: Id("Provider voice id (default: the organisation's)", "alloy"),
    format: z.enum(TTS_FORMATS).optional().openapi({ description: "Audio format (default mp3); each provider offers some", example: "mp3" }),
    provider: Provider,
    model: Id("Text-to-speech model (default: the organisation's)", "gpt-4o-mini-tts"),
    store: z.boolean().optional().openapi({ description: "Keep it in storage and answer a link instead of the audio", example: false }),
  })
  .strict()
  .openapi("TextToSpeech");

export const StoredAudioSchema = z
  .object({
    id: z.string().openapi({ example: "aud_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    url: z.string().openapi({ description: "Works without signing in until `expires_at`" }),
    content_type: z.string().openapi({ example: "audio/mpeg" }),
    bytes: z.number().int(),
    expires_at: z.string().openapi({ description: "When the link stops working", example: "2026-12-03T11:00:00.000Z" }),
    usage: z.object({ credits: z.number().int() }),
  })
  .openapi("StoredAudio");

export const AudioChatForm = z
  .object({
    file: AudioFile,
    format: DeclaredFormat,
    database_id: Id("The linked database to ask; leave out to ask your own Billx data", "ldb_01JD3X6W6X8Q3M1B0V4T2Y9ZKA"),
    conversation_id: Id("Continue a conversation about the same database", "qcv_01JD3X6W6X8Q3M1B0V4T2Y9ZKA"),
    language: Language,
    provider: Provider,
    voice: Id("Voice of the spoken answer", "alloy"),
    output_format: z.enum(TTS_FORMATS).optional().openapi({ description: "Format of the spoken answer (default mp3)", example: "mp3" }),
    model: Id("Model that writes the SQL and the answer (default SQL_MODEL)", "gpt-4o-mini"),
  })
  .openapi("AudioChatUpload");

export const AudioChatResult = z
  .object({
    transcript: z.string().openapi({ example: "How many customers signed up this week?" }),
    query_id: z.string().nullable().openapi({ description: "The question in the query history (linked databases)", example: "qrn_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    conversation_id: z.string().nullable(),
    sql: z.string(),
    columns: z.array(z.object({ name: z.string() }).passthrough()),
    rows: z.array(z.array(z.unknown())),
    truncated: z.boolean(),
    answer_text: z.string().openapi({ description: "The spoken sentence", example: "Twelve customers signed up this week." }),
    audio_url: z.string().openapi({ description: "The spoken answer; works without signing in until `audio_expires_at`" }),
    audio_expires_at: z.string(),
    usage: z.object({ credits: z.number().int().openapi({ description: "Credits of the whole pipeline, charged once" }) }),
  })
  .openapi("AudioChatResult");

export const AudioIdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: "id", in: "path" }, example: "aud_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
});
export const AudioLinkQuery = z.object({ token: z.string().min(1).max(200).openapi({ description: "The link's token" }) });
