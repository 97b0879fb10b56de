/**
 * A fake of ElevenLabs' speech APIs:
 * - `POST /v1/speech-to-text` (multipart: `file`, `model_id`, optional `language_code`, `file_format`
 *   `other` | `pcm_s16le_16`, `timestamps_granularity`): the transcript registered for the upload's
 *   SHA-256 (`POST /_fake/transcripts {sha256, text, language?}`), "" for silence, else a fixed fake
 *   text; words and spacings timed over the audio's real duration. Scope = `model_id`.
 * - `POST /v1/text-to-speech/{voice_id}` and `…/stream` (JSON `{text, model_id?, voice_settings?}`,
 *   query `output_format`): real audio of that format, as long as the text takes to say; the stream
 *   arrives in several chunks. Scope = `voice_id`.
 * Auth by `xi-api-key`; errors in ElevenLabs' `{detail: …}` shapes (FastAPI lists for 422).
 * Requests are recorded with the upload summarised (name, type, size, sha256), never its bytes.
 */
import type { ServerResponse } from "node:http";
import {
  chunkAudio,
  inspectAudio,
  languageCode3,
  type RawAudioHint,
  renderSpeech,
  type SpeechFormat,
  sha256Hex,
  spreadWords,
  TranscriptRegistry,
} from "./audio.ts";
import { type FakeRequest, type FakeState, recordDelayAndMaybeFail, sendBytes, sendJson, startFake } from "./kit.ts";
import { type MultipartForm, parseMultipart } from "./multipart.ts";

export const ELEVENLABS_FAKE_TRANSCRIPT = "This is a fake transcript from the ElevenLabs fake.";

/** Pause between the chunks of a streamed text-to-speech answer. */
const STREAM_GAP_MS = 15;
const STREAM_CHUNKS = 5;
const MAX_TEXT_CHARS = 10_000;

/** Starts the fake; with `apiKey` only that `xi-api-key` is accepted, otherwise any non-empty one. */
export function startFakeElevenLabs(apiKey?: string) {
  const transcripts = new TranscriptRegistry();
  return startFake<never>(async (req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (req.method === "POST" && url.pathname === "/_fake/transcripts") return registerTranscript(req, res, transcripts);
    const tts = /^\/v1\/text-to-speech\/([^/]+)(\/stream)?$/.exec(url.pathname);
    const known = url.pathname === "/v1/speech-to-text" || tts;
    if (!known) return sendJson(res, 404, { detail: "Not Found" });
    if (req.method !== "POST") return sendJson(res, 405, { detail: "Method Not Allowed" });
    const key = req.headers["xi-api-key"];
    if (typeof key !== "string" || key === "") {
      return sendJson(res, 401, {
        detail: { status: "needs_authorization", message: "Neither authorization header nor xi-api-key received, please provide one." },
      });
    }
    if (apiKey !== undefined && key !== apiKey) return sendJson(res, 401, { detail: { status: "invalid_api_key", message: "Invalid API key" } });
    if (tts) return textToSpeech(req, res, state, decodeURIComponent(tts[1] as string), url, Boolean(tts[2]));
    return speechToText(req, res, state, transcripts);
  });
}

/** `POST /_fake/transcripts {sha256, text, language?}`, shared by the speech fakes. */
export function registerTranscript(req: FakeRequest, res: ServerResponse, registry: TranscriptRegistry) {
  const body = (req.body ?? {}) as { sha256?: unknown; text?: unknown; language?: unknown };
  if (typeof body.sha256 !== "string" || !/^[0-9a-f]{64}$/i.test(body.sha256) || typeof body.text !== "string") {
    return sendJson(res, 400, { error: { message: "transcripts need sha256 (64 hex digits) and text" } });
  }
  registry.register(body.sha256, { text: body.text, language: typeof body.language === "string" ? body.language : undefined });
  return sendJson(res, 204, null);
}

/** What a request record keeps of a multipart body: every text field, and the file as name, type, size and SHA-256. */
export function summariseForm(form: MultipartForm | undefined): Record<string, unknown> {
  if (!form) return {};
  const summary: Record<string, unknown> = {};
  for (const part of form.parts) {
    if (part.filename !== undefined) {
      summary[part.name] = { filename: part.filename, content_type: part.contentType ?? null, size: part.data.byteLength, sha256: sha256Hex(part.data) };
    } else {
      const value = part.data.toString("utf8");
      const previous = summary[part.name];
      summary[part.name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
    }
  }
  return summary;
}

/** Headerless u-law or PCM, as the upload names it: `file_format`, a `.ulaw`/`.pcm` name, or its content type. */
export function rawAudioHint(filename: string | undefined, contentType: string | undefined, fileFormat?: string): RawAudioHint | undefined {
  if (fileFormat === "pcm_s16le_16") return { kind: "pcm16", sampleRate: 16000 };
  const name = (filename ?? "").toLowerCase();
  const type = (contentType ?? "").toLowerCase();
  if (/\.(ulaw|ul|mulaw|mu|pcmu)$/.test(name) || /^audio\/(basic|x-mulaw|mulaw|ulaw|pcmu)\b/.test(type)) {
    const rate = /rate=(\d+)/.exec(type)?.[1];
    return { kind: "ulaw", sampleRate: rate ? Number(rate) : 8000 };
  }
  return undefined;
}

function missing(loc: string[], input: unknown) {
  return { type: "missing", loc, msg: "Field required", input };
}

async function speechToText(req: FakeRequest, res: ServerResponse, state: FakeState<never>, transcripts: TranscriptRegistry) {
  const form = parseMultipart(req.rawBody, req.headers["content-type"]);
  const modelId = form?.field("model_id") ?? "";
  if (await recordDelayAndMaybeFail(req, res, state, modelId, summariseForm(form))) return;
  const file = form?.file("file");
  const errors = [...(file ? [] : [missing(["body", "file"], null)]), ...(modelId ? [] : [missing(["body", "model_id"], null)])];
  if (errors.length > 0 || !form || !file) return sendJson(res, 422, { detail: errors });

  const fileFormat = form.field("file_format") ?? "other";
  if (fileFormat !== "other" && fileFormat !== "pcm_s16le_16") {
    return sendJson(res, 422, {
      detail: [{ type: "enum", loc: ["body", "file_format"], msg: "Input should be 'pcm_s16le_16' or 'other'", input: fileFormat }],
    });
  }
  const audio = inspectAudio(file.data, rawAudioHint(file.filename, file.contentType, fileFormat));
  if (!audio) {
    return sendJson(res, 400, { detail: { status: "invalid_content", message: "The uploaded file does not contain audio that could be decoded." } });
  }
  const requestedLanguage = form.field("language_code") || undefined;
  const transcript = transcripts.transcribe(file.data, audio, ELEVENLABS_FAKE_TRANSCRIPT);
  const timed = form.field("timestamps_granularity") === "none" ? [] : spreadWords(transcript.text, audio.durationSeconds);
  const words: Record<string, unknown>[] = [];
  for (const [index, word] of timed.entries()) {
    const previous = timed[index - 1];
    if (previous) words.push({ text: " ", start: previous.end, end: word.start, type: "spacing", logprob: 0 });
    words.push({ text: word.word, start: word.start, end: word.end, type: "word", logprob: -0.02 });
  }
  return sendJson(res, 200, {
    language_code: languageCode3(requestedLanguage ?? transcript.language),
    language_probability: transcript.source === "silence" ? 0.5 : 0.98,
    text: transcript.text,
    words,
    transcription_id: `fake${sha256Hex(file.data).slice(0, 16)}`,
  });
}

/** ElevenLabs' `output_format` values the fake renders. */
export function elevenLabsFormat(outputFormat: string): SpeechFormat | undefined {
  const mp3 = /^mp3_(\d+)_(\d+)$/.exec(outputFormat);
  if (mp3) {
    const known = ["22050_32", "44100_32", "44100_64", "44100_96", "44100_128", "44100_192"];
    return known.includes(`${mp3[1]}_${mp3[2]}`) ? { kind: "mp3", sampleRate: Number(mp3[1]), kbps: Number(mp3[2]) } : undefined;
  }
  const pcm = /^(pcm|wav)_(\d+)$/.exec(outputFormat);
  if (pcm && ["8000", "16000", "22050", "24000", "44100", "48000"].includes(pcm[2] as string)) {
    return { kind: pcm[1] === "wav" ? "wav" : "pcm", sampleRate: Number(pcm[2]) };
  }
  if (/^opus_48000_(32|64|96|128|192)$/.test(outputFormat)) return { kind: "opus" };
  return outputFormat === "ulaw_8000" ? { kind: "ulaw", sampleRate: 8000 } : undefined;
}

async function textToSpeech(req: FakeRequest, res: ServerResponse, state: FakeState<never>, voiceId: string, url: URL, stream: boolean) {
  const body = (req.body && typeof req.body === "object" ? req.body : {}) as { text?: unknown; voice_settings?: { speed?: unknown } };
  if (await recordDelayAndMaybeFail(req, res, state, voiceId)) return;
  if (typeof body.text !== "string") return sendJson(res, 422, { detail: [missing(["body", "text"], req.body ?? null)] });
  const outputFormat = url.searchParams.get("output_format") ?? "mp3_44100_128";
  const format = elevenLabsFormat(outputFormat);
  if (!format) {
    return sendJson(res, 422, {
      detail: [
        {
          type: "enum",
          loc: ["query", "output_format"],
          msg: "Input should be a supported output format (mp3_*, pcm_*, wav_*, opus_48000_*, ulaw_8000)",
          input: outputFormat,
        },
      ],
    });
  }
  if (body.text.trim() === "") return sendJson(res, 400, { detail: { status: "invalid_text", message: "Text must contain at least one character." } });
  if (body.text.length > MAX_TEXT_CHARS) {
    return sendJson(res, 400, { detail: { status: "text_too_long", message: `Text must be at most ${MAX_TEXT_CHARS} characters.` } });
  }
  const speed = typeof body.voice_settings?.speed === "number" ? body.voice_settings.speed : 1;
  if (speed < 0.7 || speed > 1.2) {
    return sendJson(res, 422, {
      detail: [{ type: "value_error", loc: ["body", "voice_settings", "speed"], msg: "speed must be between 0.7 and 1.2", input: speed }],
    });
  }
  const speech = renderSpeech(body.text, format, speed);
  const headers = {
    "content-type": speech.contentType,
    "request-id": `req_fake_${Date.now().toString(36)}`,
    "x-character-count": String(body.text.length),
  };
  const chunks = stream ? chunkAudio(speech.bytes, STREAM_CHUNKS, speech.chunking) : [speech.bytes];
  return sendBytes(res, 200, headers, chunks, STREAM_GAP_MS);
}
