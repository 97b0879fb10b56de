/**
 * `npm run bench` section `speech`: what the Worker adds to the speech provider's own time. The
 * provider is the fake OpenAI in this process (transcription, speech and the chat model), and its
 * time is the same request sent straight to it: each request through the Worker is followed by a
 * replay of what the fake received from the Worker (its request records), timed from here. The
 * difference is paired per request, so p99 means something; loopback and the SDK stay in it.
 * - STT: `POST /v1/stt` of one recording;
 * - TTS: time to the first audio byte of `POST /v1/tts`, the fake streaming in chunks with pauses
 *   (a Worker that buffered would show a first byte only at the end: the total is printed too);
 * - audio chat: `POST /v1/query/audio-chat` against Chinook, less its transcription, both chat
 *   completions (SQL, then the spoken sentence) and its speech.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { sha256Hex, synthesizeSpeech, writeWav } from "../../tests/fakes/audio.ts";
import { loadChinook } from "../../tests/harness/sample-databases.ts";
import { benchShop } from "./bench-bills.ts";
import type { LocalStack } from "./local-stack.ts";

// The fake keys everything by model: the bench's own names keep its records and stream shape
// apart, and each is priced by its known prefix (whisper-1, gpt-4o-mini-tts, gpt-4o-mini).
const STT_MODEL = "whisper-1-bench";
const TTS_MODEL = "gpt-4o-mini-tts-bench";
// The chat model gets a suffix per question (see the audio chat round).
const CHAT_MODEL = "gpt-4o-mini-bench-voice";
// What audio chat speaks with when the organisation chose nothing (SPEECH_DEFAULTS, provider openai).
const AUDIO_CHAT_STT_MODEL = "whisper-1";
const AUDIO_CHAT_TTS_MODEL = "gpt-4o-mini-tts";
const RECORDING = "revenue-last-month.wav";
const QUESTION = "Please show me the total revenue for last month.";
const REVENUE_SQL =
  "SELECT to_char(date_trunc('month', invoice_date), 'YYYY-MM') AS month, sum(total) AS revenue FROM invoice GROUP BY 1 ORDER BY 1 DESC LIMIT 1";
// No number in it, so the Worker keeps it (an answer quoting a number not in the rows is replaced).
const SPOKEN_ANSWER = "Here is the revenue of the latest month in your invoices.";
const TTS_TEXT = "Your table for four is booked for seven tonight. We look forward to seeing you, and you can change it any time.";
// About 7 s (140 KB) of mp3 in 8 pieces 40 ms apart: a Worker that buffered would pass on its first byte
// only some 280 ms after the provider's, when the whole answer is in.
const TTS_STREAM = { chunks: 8, gapMs: 40 };
const WARM_UP = 5;
const BENCH_CREDITS = 1_000_000;

export interface SpeechOptions {
  stack: LocalStack;
  baseUrl: string;
  accessToken: string;
  /** A second user, made platform staff to grant the run's credits. */
  staff: { email: string; accessToken: string };
  fakeOpenAiUrl: string;
  /** ../shared/data/audio; without it a WAV is made by the fakes' speech synthesiser. */
  audioDir: string;
  /** Requests timed per route, after a warm-up. */
  requests: number;
}

/** Per request: through the Worker, straight to the provider, and the difference. */
interface Paired {
  requests: number;
  /** Requests whose answer was not the expected one (status, transcript, audio length or rows). */
  failed: number;
  throughWorkerMs: number[];
  directMs: number[];
  overheadMs: number[];
}

export interface SpeechFigures {
  audioSource: "shared" | "generated";
  audioSeconds: number;
  stt: Paired;
  tts: Paired & {
    ttfbThroughWorkerMs: number[];
    ttfbDirectMs: number[];
    totalThroughWorkerMs: number[];
    totalDirectMs: number[];
    /** From sending to the Worker until the fake had the Worker's speech request (wall clock, whole ms). */
    beforeProviderMs: number[];
    /** The rest of the added time: from the provider's first byte to the Worker's (the hold's settlement, passing it on). */
    afterProviderMs: number[];
  };
  audioChat: Paired & { modelCallsPerRequest: number };
}

/** All figures of the section; see the file's header. */
export async function measureSpeech(options: SpeechOptions): Promise<SpeechFigures> {
  const fake = new FakeOpenAi(options.fakeOpenAiUrl);
  const recording = loadRecording(options.audioDir);
  await fake.control("/_fake/transcripts", { sha256: sha256Hex(recording.bytes), text: recording.text, language: "en" });
  await fake.control("/_fake/speech-stream", { scope: TTS_MODEL, chunks: TTS_STREAM.chunks, gap_ms: TTS_STREAM.gapMs });

  // One API key per route: the limit of 600 requests a minute counts per key.
  const shop = await benchShop(options.baseUrl, options.accessToken, 3);
  const [sttKey, ttsKey, chatKey] = shop.keys as [string, string, string];
  await grantCredits(options, shop.orgId, BENCH_CREDITS);

  const worker = (key: string, pathname: string, body: BodyInit, contentType?: string) => () =>
    fetch(`${options.baseUrl}${pathname}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, ...(contentType ? { "Content-Type": contentType } : {}) },
      body,
    });
  const upload = (fields: Record<string, string>) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append("file", new File([recording.bytes], RECORDING, { type: "audio/wav" }));
    return form;
  };

  const stt = await measurePaired("stt", options.requests, async () => {
    const through = await timeResponse(worker(sttKey, "/v1/stt", upload({ model: STT_MODEL })));
    const heard = through.status === 200 ? (JSON.parse(through.body.toString("utf8")) as { text?: string }).text : undefined;
    const direct = await fake.replayEach(STT_MODEL, "/v1/audio/transcriptions", recording.bytes);
    return { failure: failureOf(through, heard === recording.text), throughMs: through.totalMs, directMs: sum(direct.map((d) => d.totalMs)) };
  });

  const ttfb = {
    through: [] as number[],
    direct: [] as number[],
    totalThrough: [] as number[],
    totalDirect: [] as number[],
    beforeProvider: [] as number[],
    afterProvider: [] as number[],
  };
  const tts = await measurePaired("tts", options.requests, async (timed) => {
    const sentAt = Date.now();
    const through = await timeResponse(worker(ttsKey, "/v1/tts", JSON.stringify({ text: TTS_TEXT, model: TTS_MODEL, format: "mp3" }), "application/json"));
    const [direct] = await fake.replayEach(TTS_MODEL, "/v1/audio/speech");
    if (!direct) throw new Error("bench: the fake OpenAI recorded no speech request");
    if (timed) {
      ttfb.through.push(through.firstByteMs);
      ttfb.direct.push(direct.firstByteMs);
      ttfb.totalThrough.push(through.totalMs);
      ttfb.totalDirect.push(direct.totalMs);
      ttfb.beforeProvider.push(direct.receivedAt - sentAt);
      ttfb.afterProvider.push(through.firstByteMs - (direct.receivedAt - sentAt) - direct.firstByteMs);
    }
    const failure = failureOf(through, through.status === 200 && through.body.byteLength === direct.body.byteLength);
    return { failure, throughMs: through.firstByteMs, directMs: direct.firstByteMs };
  });

  const { readerUrl } = await loadChinook(options.stack.postgres.adminUrl, options.stack.postgres.urlFor);
  const database = await fetch(`${options.baseUrl}/v1/databases`, {
    method: "POST",
    headers: { Authorization: `Bearer ${chatKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "Chinook (speech bench)", url: readerUrl }),
  });
  if (database.status !== 201) throw new Error(`bench link Chinook: ${database.status} ${await database.text()}`);
  const databaseId = ((await database.json()) as { id: string }).id;
  // Skip the requests the earlier routes left in the fake's records of the default models.
  for (const scope of [AUDIO_CHAT_STT_MODEL, AUDIO_CHAT_TTS_MODEL]) await fake.replayEach(scope, "", undefined, false);
  let modelCalls = 0;
  const audioChat = await measurePaired("audio_chat", options.requests, async (timed, index) => {
    // A model name per question: a question that fails half way cannot leave its answer to the next.
    const model = `${CHAT_MODEL}-${index}`;
    await fake.scriptSqlAndAnswer(model);
    const through = await timeResponse(worker(chatKey, "/v1/query/audio-chat", upload({ database_id: databaseId, model })));
    const answer = through.status === 200 ? (JSON.parse(through.body.toString("utf8")) as { rows?: unknown[]; transcript?: string }) : {};
    // The replayed completions get the same scripted answers as the Worker's did.
    await fake.scriptSqlAndAnswer(model);
    const heard = await fake.replayEach(AUDIO_CHAT_STT_MODEL, "/v1/audio/transcriptions", recording.bytes);
    const chats = await fake.replayEach(model, "/v1/chat/completions");
    const spoken = await fake.replayEach(AUDIO_CHAT_TTS_MODEL, "/v1/audio/speech");
    if (timed) modelCalls += chats.length;
    const failure = failureOf(through, answer.transcript === recording.text && answer.rows?.length === 1 && chats.length === 2);
    return { failure, throughMs: through.totalMs, directMs: sum([...heard, ...chats, ...spoken].map((d) => d.totalMs)) };
  });

  return {
    audioSource: recording.source,
    audioSeconds: recording.seconds,
    stt,
    tts: {
      ...tts,
      ttfbThroughWorkerMs: ttfb.through,
      ttfbDirectMs: ttfb.direct,
      totalThroughWorkerMs: ttfb.totalThrough,
      totalDirectMs: ttfb.totalDirect,
      beforeProviderMs: ttfb.beforeProvider,
      afterProviderMs: ttfb.afterProvider,
    },
    audioChat: { ...audioChat, modelCallsPerRequest: modelCalls / audioChat.requests },
  };
}

/** The question as a WAV: the shared recording when there, else one the fakes synthesise (a tone pattern, not speech). */
function loadRecording(audioDir: string): { bytes: Uint8Array; text: string; seconds: number; source: "shared" | "generated" } {
  const manifestPath = path.join(audioDir, "manifest.json");
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { files: { text: string; wav: string; duration_ms: number }[] };
    const entry = manifest.files.find((file) => file.wav === RECORDING) ?? manifest.files[0];
    if (entry) {
      return { bytes: new Uint8Array(readFileSync(path.join(audioDir, entry.wav))), text: entry.text, seconds: entry.duration_ms / 1000, source: "shared" };
    }
  }
  const sampleRate = 16_000;
  const samples = synthesizeSpeech(QUESTION, sampleRate);
  return { bytes: writeWav(samples, sampleRate), text: QUESTION, seconds: samples.length / sampleRate, source: "generated" };
}

/** Null when the Worker's answer was what the round expected, else its status and the start of its body. */
function failureOf(through: TimedResponse, expected: boolean): string | null {
  return expected ? null : `${through.status} ${through.body.toString("utf8").slice(0, 300)}`;
}

/**
 * `count` timed rounds after a warm-up, one at a time. A round answers its time through the Worker,
 * the provider's time for the same work, and what went wrong if anything; `timed` is false during
 * the warm-up. The first failure is printed to stderr, so a count of failures can be explained.
 */
async function measurePaired(
  name: string,
  count: number,
  round: (timed: boolean, index: number) => Promise<{ failure: string | null; throughMs: number; directMs: number }>,
): Promise<Paired> {
  const figures: Paired = { requests: 0, failed: 0, throughWorkerMs: [], directMs: [], overheadMs: [] };
  let firstFailure: string | null = null;
  for (let i = 0; i < WARM_UP + count; i++) {
    const timed = i >= WARM_UP;
    const { failure, throughMs, directMs } = await round(timed, i);
    if (!timed) continue;
    figures.requests++;
    if (failure) figures.failed++;
    firstFailure ??= failure;
    figures.throughWorkerMs.push(throughMs);
    figures.directMs.push(directMs);
    figures.overheadMs.push(throughMs - directMs);
  }
  if (firstFailure) console.error(`bench speech ${name}: ${figures.failed} of ${figures.requests} timed requests failed; first failure: ${firstFailure}`);
  return figures;
}

interface TimedResponse {
  status: number;
  /** From sending to the first body chunk read, and to the end of the body. */
  firstByteMs: number;
  totalMs: number;
  body: Buffer;
}

async function timeResponse(send: () => Promise<Response>): Promise<TimedResponse> {
  const started = performance.now();
  const response = await send();
  const chunks: Uint8Array[] = [];
  let firstByteMs = Number.NaN;
  const reader = response.body?.getReader();
  for (;;) {
    const read = await reader?.read();
    if (!read || read.done) break;
    if (chunks.length === 0) firstByteMs = performance.now() - started;
    chunks.push(read.value);
  }
  const totalMs = performance.now() - started;
  return { status: response.status, firstByteMs: Number.isNaN(firstByteMs) ? totalMs : firstByteMs, totalMs, body: Buffer.concat(chunks) };
}

interface RecordedRequest {
  path: string;
  body: unknown;
  /** When the fake received the Worker's request (ISO, millisecond precision). */
  at: string;
}

/** A replay's timing, and when the fake had received the Worker's request it repeats (epoch ms). */
type Replayed = TimedResponse & { receivedAt: number };

/** The fake OpenAI's control endpoints, and replays of what it received from the Worker. */
class FakeOpenAi {
  /** Records already replayed (or skipped), by scope. */
  private readonly seen = new Map<string, number>();
  constructor(private readonly url: string) {}

  async control(pathname: string, body: unknown): Promise<void> {
    const response = await fetch(`${this.url}${pathname}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (response.status !== 204) throw new Error(`bench fake OpenAI ${pathname}: ${response.status} ${await response.text()}`);
  }

  /** The SQL model's two completions of one voice question: the SQL as a tool call, then the sentence. */
  scriptSqlAndAnswer(model: string): Promise<void> {
    const sql = { tool_calls: [{ name: "answer_with_sql", arguments: { sql: REVENUE_SQL, explanation: "Revenue of the latest month." } }] };
    return this.control("/_fake/scripts", { scope: model, responses: [sql, { content: SPOKEN_ANSWER }] });
  }

  /**
   * Sends again, straight to the fake, each request of `scope` to `pathname` it recorded since the
   * last call, timed one after another; `replay: false` only marks them seen. Uploads are
   * recorded as a summary: the file comes back as `file` (the only upload the bench sends).
   */
  async replayEach(scope: string, pathname: string, file?: Uint8Array, replay = true): Promise<Replayed[]> {
    const response = await fetch(`${this.url}/_fake/requests?scope=${encodeURIComponent(scope)}`);
    const records = (await response.json()) as RecordedRequest[];
    const fresh = replay ? records.slice(this.seen.get(scope) ?? 0).filter((record) => record.path.startsWith(pathname)) : [];
    // The fake records the replays too, under the same scope: they are not the Worker's.
    this.seen.set(scope, records.length + fresh.length);
    const timings: Replayed[] = [];
    for (const record of fresh) {
      const body = file ? formFromSummary(record.body as Record<string, unknown>, file) : JSON.stringify(record.body);
      const headers: Record<string, string> = { Authorization: "Bearer bench-openai-key", ...(file ? {} : { "Content-Type": "application/json" }) };
      const timed = await timeResponse(() => fetch(`${this.url}${record.path}`, { method: "POST", headers, body }));
      if (timed.status !== 200) throw new Error(`bench replay ${record.path}: ${timed.status} ${timed.body.toString("utf8").slice(0, 300)}`);
      timings.push({ ...timed, receivedAt: Date.parse(record.at) });
    }
    return timings;
  }
}

/** A multipart upload rebuilt from the fake's summary of it: the text fields, and `file` for the summarised upload. */
function formFromSummary(summary: Record<string, unknown>, file: Uint8Array): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(summary)) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const { filename, content_type } = value as { filename?: string; content_type?: string | null };
      form.append(name, new File([file], filename ?? "audio", { type: content_type ?? "application/octet-stream" }));
    } else for (const item of Array.isArray(value) ? value : [value]) form.append(name, String(item));
  }
  return form;
}

/**
 * Credits for the run through the platform's own adjustment route, by a second user made platform
 * staff for it: the measured user stays an ordinary member, and the ledger writes the entry itself.
 */
async function grantCredits(options: SpeechOptions, orgId: string, amount: number): Promise<void> {
  const db = new pg.Client({ connectionString: options.stack.databaseUrl });
  await db.connect();
  try {
    const made = await db.query("UPDATE users SET is_super_admin = true WHERE email = $1", [options.staff.email]);
    if (made.rowCount !== 1) throw new Error("the bench staff user was not found");
  } finally {
    await db.end();
  }
  const response = await fetch(`${options.baseUrl}/v1/credits/adjustments`, {
    method: "POST",
    headers: { Authorization: `Bearer ${options.staff.accessToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ org_id: orgId, amount, note: "npm run bench: credits for speech" }),
  });
  if (response.status !== 201) throw new Error(`bench credits adjustment: ${response.status} ${await response.text()}`);
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The figures as `npm run bench` prints them, one `name value` a line, milliseconds to one decimal. */
export function formatSpeechFigures(figures: SpeechFigures): string {
  const ms = (values: number[], p: number) => (Math.round(percentile(values, p) * 10) / 10).toFixed(1);
  const p50 = (name: string, values: number[]) => `speech_${name}_p50_ms ${ms(values, 50)}`;
  const p50p99 = (name: string, values: number[]) => [p50(name, values), `speech_${name}_p99_ms ${ms(values, 99)}`];
  const { stt, tts, audioChat } = figures;
  return [
    `speech_audio_source ${figures.audioSource}`,
    `speech_audio_seconds ${figures.audioSeconds}`,
    `speech_stt_requests ${stt.requests}`,
    `speech_stt_failed ${stt.failed}`,
    p50("stt_latency", stt.throughWorkerMs),
    p50("stt_direct", stt.directMs),
    ...p50p99("stt_overhead", stt.overheadMs),
    `speech_tts_requests ${tts.requests}`,
    `speech_tts_failed ${tts.failed}`,
    `speech_tts_stream_chunks ${TTS_STREAM.chunks}`,
    `speech_tts_stream_gap_ms ${TTS_STREAM.gapMs}`,
    ...p50p99("tts_ttfb_through_worker", tts.ttfbThroughWorkerMs),
    ...p50p99("tts_ttfb_direct", tts.ttfbDirectMs),
    ...p50p99("tts_ttfb_worker", tts.overheadMs),
    p50("tts_worker_before_provider", tts.beforeProviderMs),
    p50("tts_worker_after_provider_first_byte", tts.afterProviderMs),
    p50("tts_total_through_worker", tts.totalThroughWorkerMs),
    p50("tts_total_direct", tts.totalDirectMs),
    `speech_audio_chat_requests ${audioChat.requests}`,
    `speech_audio_chat_failed ${audioChat.failed}`,
    `speech_audio_chat_model_calls_per_request ${Math.round(audioChat.modelCallsPerRequest * 100) / 100}`,
    ...p50p99("audio_chat_latency", audioChat.throughWorkerMs),
    p50("audio_chat_provider", audioChat.directMs),
    ...p50p99("audio_chat_overhead", audioChat.overheadMs),
  ].join("\n");
}
