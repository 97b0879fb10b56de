/**
 * A fake of OpenAI's Chat Completions API (`POST /v1/chat/completions`): plain JSON replies,
 * streamed Server-Sent Events (`data: {chunk}` ... `data: [DONE]`), tool calls in both, usage,
 * and OpenAI's error envelope. Also `POST /v1/embeddings`, with vectors that mean something
 * (see `embedText`), as floats or base64. Audio: `POST /v1/audio/transcriptions` (see `transcriptions`)
 * and `POST /v1/audio/speech` (see `speech`); images: `POST /v1/images/generations` (openai-images.ts), with the speech fakes' transcript registry
 * (`POST /_fake/transcripts {sha256, text, language?}`). Scope = the request's `model`, so parallel test
 * files that each use their own model name never see each other's scripts, requests, failures or delays
 * (`POST /_fake/delays` holds chat, embeddings and audio answers alike). `POST /_fake/speech-stream
 * {scope, chunks, gap_ms}` makes a speech model's answers arrive in `chunks` pieces `gap_ms` apart, so a
 * client can tell audio passed on as it arrives from audio buffered first. `POST /_fake/chat-stream
 * {scope, gap_ms}` spaces a model's streamed chat chunks and `GET /_fake/chat-stream?scope=` counts
 * streams whose client went away; an unscripted sales planner request gets JSON moving one stage
 * forward (see sales-planner.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { chunkAudio, inspectAudio, languageName, renderSpeech, type SpeechFormat, spreadWords, TranscriptRegistry } from "./audio.ts";
import { registerTranscript, summariseForm } from "./elevenlabs.ts";
import { type FakeRequest, type FakeState, nextScript, recordDelayAndMaybeFail, sendBytes, sendJson, startFake } from "./kit.ts";
import { chatEndpoint } from "./llm-endpoints.ts";
import { parseMultipart } from "./multipart.ts";
import { imageGenerations } from "./openai-images.ts";
import { ChatStreams, salesPlannerAnswer } from "./sales-planner.ts";

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** What the next completion for a model says: text, or tool calls. */
export interface ChatScript {
  content?: string;
  tool_calls?: ScriptedToolCall[];
}

interface ChatRequest {
  model?: string;
  messages?: { role: string; content?: unknown }[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  response_format?: unknown;
}

let sequence = 0;

/** How a speech answer is streamed: OpenAI's few chunks at once, unless a model was given another shape. */
interface SpeechStream {
  chunks: number;
  gapMs: number;
}
const SPEECH_STREAM: SpeechStream = { chunks: 3, gapMs: 0 };

export function startFakeOpenAI() {
  const transcripts = new TranscriptRegistry();
  const speechStreams = new Map<string, SpeechStream>();
  const chatStreams = new ChatStreams();
  return startFake<ChatScript>(async (req, res, state) => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (req.method === "POST" && url.pathname === "/_fake/chat-stream") return chatStreams.configure(req.body, res);
    if (req.method === "GET" && url.pathname === "/_fake/chat-stream") return chatStreams.report(url.searchParams.get("scope") ?? "", res);
    if (req.method === "POST" && url.pathname === "/_fake/transcripts") return registerTranscript(req, res, transcripts);
    if (req.method === "POST" && url.pathname === "/_fake/speech-stream") return setSpeechStream(req, res, speechStreams);
    if (req.method === "POST" && url.pathname === "/v1/embeddings") return embeddings(req, res, state);
    if (req.method === "POST" && url.pathname === "/v1/audio/transcriptions") return transcriptions(req, res, state, transcripts);
    if (req.method === "POST" && url.pathname === "/v1/audio/speech") return speech(req, res, state, speechStreams);
    if (req.method === "POST" && url.pathname === "/v1/images/generations") return imageGenerations(req, res, state as FakeState<unknown>);
    const endpoint = chatEndpoint(url.pathname);
    if (req.method !== "POST" || !endpoint) {
      return sendJson(res, 404, {
        error: { message: `Unknown request URL: ${req.method} ${url.pathname}`, type: "invalid_request_error", param: null, code: "unknown_url" },
      });
    }
    const sent = (req.body ?? {}) as ChatRequest;
    // Anthropic answers as if no `response_format` had been sent; the request is recorded as sent.
    const body: ChatRequest = endpoint.ignoresResponseFormat ? { ...sent, response_format: undefined } : sent;
    const scope = body.model ?? "";
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) {
      return sendJson(res, 401, UNAUTHORIZED);
    }
    if (await recordDelayAndMaybeFail(req, res, state, scope)) return;
    if (!body.model || !Array.isArray(body.messages) || body.messages.length === 0) {
      return sendJson(res, 400, {
        error: { message: "'model' and 'messages' are required", type: "invalid_request_error", param: body.model ? "messages" : "model", code: null },
      });
    }

    const script = nextScript(state, scope) ?? { content: salesPlannerAnswer(body) ?? `You said: ${lastUserText(body)}` };
    const id = `chatcmpl-fake${++sequence}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = countTokens(JSON.stringify(body.messages));
    const completionTokens = countTokens(script.content ?? JSON.stringify(script.tool_calls ?? []));
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const toolCalls = (script.tool_calls ?? []).map((call, index) => ({
      index,
      id: `call_fake${sequence}_${index}`,
      type: "function" as const,
      function: { name: call.name, arguments: JSON.stringify(call.arguments) },
    }));
    const finishReason = toolCalls.length > 0 ? "tool_calls" : "stop";

    if (!body.stream) {
      return sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: toolCalls.length > 0 ? null : (script.content ?? ""),
              refusal: null,
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls.map(({ index: _i, ...call }) => call) } : {}),
            },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage,
      });
    }

    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    const watch = chatStreams.watch(scope);
    watch.started++;
    let closed = false;
    res.on("close", () => {
      closed = true;
      if (!res.writableFinished) watch.aborted++;
    });
    const chunk = (delta: Record<string, unknown>, finish: string | null) => {
      if (closed) {
        watch.chunksAfterClose++;
        return;
      }
      send(res, { id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
    };
    chunk({ role: "assistant", content: "" }, null);
    if (toolCalls.length > 0) {
      for (const call of toolCalls) {
        chunk({ tool_calls: [{ index: call.index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }, null);
        // Arguments arrive in fragments, as the real API sends them.
        for (const part of splitInto(call.function.arguments, 3)) chunk({ tool_calls: [{ index: call.index, function: { arguments: part } }] }, null);
      }
    } else {
      for (const word of (script.content ?? "").match(/\S+\s*/g) ?? []) {
        // A slowed stream (POST /_fake/chat-stream) stops at once when its client goes away.
        if (watch.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, watch.gapMs));
        if (closed) return;
        chunk({ content: word }, null);
      }
    }
    if (closed) return;
    chunk({}, finishReason);
    if (body.stream_options?.include_usage) send(res, { id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage });
    res.end("data: [DONE]\n\n");
    watch.completed++;
  });
}

const UNAUTHORIZED = { error: { message: "You didn't provide an API key.", type: "invalid_request_error", param: null, code: null } };
const MAX_EMBEDDING_INPUTS = 2048;

interface EmbeddingRequest {
  model?: unknown;
  input?: unknown;
  dimensions?: unknown;
  encoding_format?: unknown;
}

async function embeddings(req: IncomingMessage & { body: unknown }, res: ServerResponse, state: FakeState<ChatScript>) {
  const body = (req.body && typeof req.body === "object" ? req.body : {}) as EmbeddingRequest;
  const model = typeof body.model === "string" ? body.model : "";
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) return sendJson(res, 401, UNAUTHORIZED);
  if (await recordDelayAndMaybeFail(req, res, state, model)) return;
  const invalid = (message: string, param: string) => sendJson(res, 400, { error: { message, type: "invalid_request_error", param, code: null } });
  if (!model) return invalid("you must provide a model parameter", "model");
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every((i) => typeof i === "string")) {
    return invalid("'input' must be a non-empty string or array of strings", "input");
  }
  if (inputs.length > MAX_EMBEDDING_INPUTS) return invalid(`'input' must have at most ${MAX_EMBEDDING_INPUTS} items`, "input");
  if (inputs.some((i) => i.length === 0)) return invalid("'input' cannot contain an empty string", "input");
  const dimensions = body.dimensions === undefined ? defaultDimensions(model) : body.dimensions;
  if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > defaultDimensions(model)) {
    return invalid(`'dimensions' must be an integer between 1 and ${defaultDimensions(model)}`, "dimensions");
  }
  const base64 = body.encoding_format === "base64";
  const data = inputs.map((text, index) => {
    const vector = embedText(text, dimensions);
    return {
      object: "embedding",
      index,
      embedding: base64 ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64") : Array.from(vector),
    };
  });
  const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
  return sendJson(res, 200, { object: "list", data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

export const OPENAI_FAKE_TRANSCRIPT = "This is a fake transcript from the OpenAI fake.";
const TRANSCRIPTION_FORMATS = ["json", "text", "srt", "verbose_json", "vtt"];
const UNSUPPORTED_FILE = "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']";

function invalidRequest(res: ServerResponse, message: string, param: string | null, code: string | null = null) {
  return sendJson(res, 400, { error: { message, type: "invalid_request_error", param, code } });
}

/**
 * `POST /v1/audio/transcriptions`, multipart `file`, `model`, `language`, `prompt`, `response_format`
 * (json | text | srt | vtt | verbose_json; gpt-4o* models only json and text), `timestamp_granularities[]`
 * (word, segment; verbose_json only). WAV (PCM or u-law), MP3, Ogg, FLAC, WebM and MP4 are accepted by
 * their bytes; anything else (raw u-law or PCM, ADTS AAC, not audio) is refused as OpenAI refuses it.
 */
async function transcriptions(req: FakeRequest, res: ServerResponse, state: FakeState<ChatScript>, transcripts: TranscriptRegistry) {
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) return sendJson(res, 401, UNAUTHORIZED);
  const form = parseMultipart(req.rawBody, req.headers["content-type"]);
  const model = form?.field("model") ?? "";
  if (await recordDelayAndMaybeFail(req, res, state, model, summariseForm(form))) return;
  if (!model) return invalidRequest(res, "you must provide a model parameter", "model");
  const file = form?.file("file");
  if (!form || !file) return invalidRequest(res, "1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)", "file");
  const format = form.field("response_format") ?? "json";
  if (!TRANSCRIPTION_FORMATS.includes(format)) {
    return invalidRequest(res, `'${format}' is not one of ${JSON.stringify(TRANSCRIPTION_FORMATS)} - 'response_format'`, "response_format", "invalid_value");
  }
  const tokenBilled = model.startsWith("gpt-4o");
  if (tokenBilled && format !== "json" && format !== "text") {
    return invalidRequest(
      res,
      `response_format '${format}' is not compatible with model '${model}'. Use 'json' or 'text' instead.`,
      "response_format",
      "unsupported_value",
    );
  }
  const granularities = form.fields("timestamp_granularities[]");
  if (granularities.length > 0 && format !== "verbose_json") {
    return invalidRequest(res, "timestamp_granularities requires response_format=verbose_json", "timestamp_granularities", "invalid_value");
  }
  const audio = inspectAudio(file.data);
  if (!audio || audio.container === "ulaw" || audio.container === "pcm" || audio.container === "aac")
    return invalidRequest(res, UNSUPPORTED_FILE, null, "invalid_value");

  const transcript = transcripts.transcribe(file.data, audio, OPENAI_FAKE_TRANSCRIPT);
  const language = form.field("language") || transcript.language;
  const duration = Math.round(audio.durationSeconds * 1000) / 1000;
  const words = spreadWords(transcript.text, audio.durationSeconds);
  const segments =
    transcript.text === ""
      ? []
      : [
          {
            id: 0,
            seek: 0,
            start: words[0]?.start ?? 0,
            end: words.at(-1)?.end ?? duration,
            text: ` ${transcript.text}`,
            tokens: Array.from({ length: countTokens(transcript.text) }, (_, i) => 50364 + i),
            temperature: 0,
            avg_logprob: -0.2,
            compression_ratio: 1.1,
            no_speech_prob: 0.01,
          },
        ];
  if (format === "text") return sendBytes(res, 200, { "content-type": "text/plain; charset=utf-8" }, [Buffer.from(`${transcript.text}\n`)]);
  if (format === "srt" || format === "vtt") {
    const stamp = (t: number) => {
      const ms = Math.round(t * 1000);
      const hh = String(Math.floor(ms / 3_600_000)).padStart(2, "0");
      const mm = String(Math.floor(ms / 60_000) % 60).padStart(2, "0");
      const ss = String(Math.floor(ms / 1000) % 60).padStart(2, "0");
      return `${hh}:${mm}:${ss}${format === "srt" ? "," : "."}${String(ms % 1000).padStart(3, "0")}`;
    };
    const cues = segments.map((s, i) => `${format === "srt" ? `${i + 1}\n` : ""}${stamp(s.start)} --> ${stamp(s.end)}\n${s.text.trim()}\n`);
    const body = format === "srt" ? cues.join("\n") : `WEBVTT\n\n${cues.join("\n")}`;
    return sendBytes(res, 200, { "content-type": "text/plain; charset=utf-8" }, [Buffer.from(body)]);
  }
  const seconds = Math.ceil(audio.durationSeconds);
  if (format === "verbose_json") {
    const wantWords = granularities.includes("word");
    const wantSegments = granularities.length === 0 || granularities.includes("segment");
    return sendJson(res, 200, {
      task: "transcribe",
      language: languageName(language),
      duration,
      text: transcript.text,
      ...(wantWords ? { words } : {}),
      ...(wantSegments ? { segments } : {}),
      usage: { type: "duration", seconds },
    });
  }
  const audioTokens = Math.max(1, Math.round(audio.durationSeconds * 10));
  const outputTokens = transcript.text === "" ? 0 : countTokens(transcript.text);
  const usage = tokenBilled
    ? {
        type: "tokens",
        input_tokens: audioTokens,
        input_token_details: { text_tokens: 0, audio_tokens: audioTokens },
        output_tokens: outputTokens,
        total_tokens: audioTokens + outputTokens,
      }
    : { type: "duration", seconds };
  return sendJson(res, 200, { text: transcript.text, usage });
}

/** OpenAI's speech formats the fake renders: 24 kHz mono, as OpenAI's voices are. */
const SPEECH_FORMATS: Record<string, SpeechFormat> = {
  mp3: { kind: "mp3", sampleRate: 24000, kbps: 160 },
  wav: { kind: "wav", sampleRate: 24000 },
  pcm: { kind: "pcm", sampleRate: 24000 },
  flac: { kind: "flac", sampleRate: 24000 },
  opus: { kind: "opus" },
  aac: { kind: "aac", sampleRate: 24000 },
};
const MAX_SPEECH_INPUT = 4096;

/**
 * `POST /v1/audio/speech` JSON `{model, input, voice, response_format?, speed?, instructions?}`: real
 * audio as long as the input takes to say (mp3, opus in Ogg, aac in ADTS, flac, wav, pcm), sent in a few
 * chunks as OpenAI streams it.
 */
async function speech(req: FakeRequest, res: ServerResponse, state: FakeState<ChatScript>, streams: Map<string, SpeechStream>) {
  const body = (req.body && typeof req.body === "object" ? req.body : {}) as {
    model?: unknown;
    input?: unknown;
    voice?: unknown;
    response_format?: unknown;
    speed?: unknown;
    instructions?: unknown;
  };
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? "")) return sendJson(res, 401, UNAUTHORIZED);
  const model = typeof body.model === "string" ? body.model : "";
  if (await recordDelayAndMaybeFail(req, res, state, model)) return;
  if (!model) return invalidRequest(res, "you must provide a model parameter", "model");
  if (typeof body.input !== "string" || body.input.length === 0) return invalidRequest(res, "'input' is required and must be a non-empty string", "input");
  if (body.input.length > MAX_SPEECH_INPUT) {
    return invalidRequest(res, `'input' is too long: ${body.input.length} characters, at most ${MAX_SPEECH_INPUT}`, "input", "string_above_max_length");
  }
  const voiceOk = typeof body.voice === "string" ? body.voice !== "" : typeof (body.voice as { id?: unknown } | undefined)?.id === "string";
  if (!voiceOk) return invalidRequest(res, "'voice' is required", "voice");
  const formatName = body.response_format === undefined ? "mp3" : String(body.response_format);
  const format = SPEECH_FORMATS[formatName];
  if (!format) return invalidRequest(res, `'${formatName}' is not one of ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'] - 'response_format'`, "response_format");
  const speed = body.speed === undefined ? 1 : Number(body.speed);
  if (!Number.isFinite(speed) || speed < 0.25 || speed > 4) return invalidRequest(res, "'speed' must be between 0.25 and 4.0", "speed");
  if (body.instructions !== undefined && /^tts-1/.test(model))
    return invalidRequest(res, `instructions are not supported with model '${model}'`, "instructions");
  const rendered = renderSpeech(body.input, format, speed);
  const stream = streams.get(model) ?? SPEECH_STREAM;
  return sendBytes(res, 200, { "content-type": rendered.contentType }, chunkAudio(rendered.bytes, stream.chunks, rendered.chunking), stream.gapMs);
}

/** `POST /_fake/speech-stream {scope, chunks, gap_ms}`: the streaming shape of one speech model's answers. */
function setSpeechStream(req: FakeRequest, res: ServerResponse, streams: Map<string, SpeechStream>) {
  const body = (req.body ?? {}) as { scope?: unknown; chunks?: unknown; gap_ms?: unknown };
  const chunks = Number(body.chunks);
  const gapMs = Number(body.gap_ms ?? 0);
  if (typeof body.scope !== "string" || !Number.isInteger(chunks) || chunks < 1 || !Number.isFinite(gapMs) || gapMs < 0) {
    return sendJson(res, 400, { error: { message: "speech-stream needs scope, an integer chunks >= 1 and gap_ms >= 0" } });
  }
  streams.set(body.scope, { chunks, gapMs });
  return sendJson(res, 204, null);
}

function defaultDimensions(model: string): number {
  return model.startsWith("text-embedding-3-large") ? 3072 : 1536;
}

/**
 * A deterministic embedding that behaves like one: each (lower-cased, lightly stemmed) word
 * adds ±1 at a hashed dimension, then the vector is L2-normalised. Texts sharing words point the
 * same way, so cosine similarity ranks related texts above unrelated ones.
 * Float32Array stores little-endian on every platform Node runs on, as OpenAI's base64 is.
 */
export function embedText(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const hash = fnv1a(stem(word));
    const at = hash % dimensions;
    vector[at] = (vector[at] as number) + (hash & 0x80000000 ? -1 : 1);
  }
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

/** Light stemming: "boxes", "prices", "booking", "booked" become "box", "price", "book", "book". */
function stem(word: string): string {
  if (word.length <= 4) return word;
  if (/(?:[sxz]|ch|sh)es$/.test(word)) return word.slice(0, -2);
  if (/(?:ing|ed)$/.test(word)) return word.replace(/(?:ing|ed)$/, "");
  if (word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

/** 32-bit FNV-1a of the UTF-16 code units: stable across runs and processes. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function send(res: ServerResponse, data: unknown) {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

function lastUserText(body: ChatRequest): string {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === "user");
  return typeof last?.content === "string" ? last.content : JSON.stringify(last?.content ?? "");
}

function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function splitInto(text: string, parts: number): string[] {
  const size = Math.ceil(text.length / parts) || 1;
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
