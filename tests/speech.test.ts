/**
 * Speech through the API: /v1/stt and /v1/tts with both providers' fakes, the recordings of
 * ../shared/data/audio, bad uploads, provider failures with credits given back, stored audio
 * behind expiring links, the organisation's speech settings, and asking data by voice
 * (/v1/query/audio-chat against Chinook and the organisation's own data). Every test uses its own
 * model or voice id, the fakes' scope.
 */
import { SELF } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { audioFiles, creditReservations, usageEvents } from "../src/db/schema";
import { getBalance } from "../src/modules/money/credits/ledger";
import { deleteExpiredAudio } from "../src/modules/speech/audio-store";
import { parseMp3, parseWav, silentMp3, writeWav } from "./fakes/audio";
import { call, expectJson, type SignedUp, signUp, uniqueIp } from "./harness/api";
import {
  type AudioRecording,
  audioData,
  audioManifest,
  elevenLabsErrorBody,
  fakeElevenLabs,
  fakeOpenAIAudio,
  fakeSpeech,
  openAIErrorBody,
} from "./harness/fakes";
import { expectProblem, fakeOpenAI, fetchWithEnv, testCtx } from "./harness/helpers";

const tag = Math.floor(Math.random() * 0xffffff).toString(16);

interface Transcript {
  text: string;
  language: string | null;
  duration_s: number;
  provider: string;
  model: string;
  words?: { word: string; start: number; end: number }[];
  usage: { credits: number };
}

function sttRequest(who: SignedUp, bytes: Uint8Array, fields: Record<string, string> = {}, filename = "clip.bin"): Request {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new File([bytes], filename, { type: "application/octet-stream" }));
  return new Request("http://api.test/v1/stt", {
    method: "POST",
    headers: { Authorization: `Bearer ${who.access_token}`, "X-Org-Id": who.orgId, "CF-Connecting-IP": uniqueIp() },
    body: form,
  });
}

const stt = (who: SignedUp, bytes: Uint8Array, fields: Record<string, string> = {}) => SELF.fetch(sttRequest(who, bytes, fields));
const tts = (who: SignedUp, body: Record<string, unknown>) => call("/v1/tts", { token: who.access_token, orgId: who.orgId, body });

let recordings: (AudioRecording & { wavBytes: Uint8Array; ulawBytes: Uint8Array })[] = [];

beforeAll(async () => {
  const manifest = await audioManifest();
  recordings = await Promise.all(
    manifest.map(async (entry) => {
      const wavBytes = await audioData(entry.wav);
      const ulawBytes = await audioData(entry.ulaw);
      await fakeSpeech.registerTranscript(wavBytes, entry.text, "en");
      await fakeSpeech.registerTranscript(ulawBytes, entry.text, "en");
      return { ...entry, wavBytes, ulawBytes };
    }),
  );
});

describe("speech to text", () => {
  it("transcribes every recording, WAV and raw u-law, through OpenAI and ElevenLabs, charging per second", async () => {
    const owner = await signUp("stt-all");
    const models = { openai: `whisper-1-all-${tag}`, elevenlabs: `scribe_v1-all-${tag}` };
    expect(recordings.length).toBeGreaterThanOrEqual(5);
    for (const recording of recordings) {
      for (const provider of ["openai", "elevenlabs"] as const) {
        const wav = await expectJson<Transcript>(await stt(owner, recording.wavBytes, { provider, model: models[provider] }), 200);
        expect(wav).toMatchObject({ text: recording.text, provider, model: models[provider], language: "en" });
        expect(wav.duration_s).toBeCloseTo(recording.duration_ms / 1000, 2);
        expect(wav.words?.length).toBeGreaterThan(3);
        expect(wav.words?.at(-1)?.end ?? 0).toBeLessThanOrEqual(wav.duration_s + 0.01);
        const ulaw = await expectJson<Transcript>(await stt(owner, recording.ulawBytes, { provider, model: models[provider], format: "ulaw_8000" }), 200);
        expect(ulaw.text).toBe(recording.text);
        expect(ulaw.duration_s).toBeCloseTo(recording.ulawBytes.length / 8000, 3);
      }
    }
    // What reached ElevenLabs was a WAV (u-law kept as u-law), with the model asked for.
    const sent = await fakeElevenLabs.requests(models.elevenlabs);
    expect(sent).toHaveLength(recordings.length * 2);
    expect(JSON.stringify(sent[1]?.body)).toContain(`"model_id":"${models.elevenlabs}"`);
    const events = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    expect(events).toHaveLength(recordings.length * 4);
    expect(new Set(events.map((e) => e.feature))).toEqual(new Set(["speech.stt"]));
    expect(events.every((e) => e.audioSeconds > 2 && e.credits >= 1)).toBe(true);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(1000 - events.reduce((sum, e) => sum + e.credits, 0));
  });

  it("answers an empty transcript for silence, not an error", async () => {
    const owner = await signUp("stt-silence");
    const silence = writeWav(new Int16Array(16000), 16000);
    const result = await expectJson<Transcript>(await stt(owner, silence, { provider: "openai", model: `whisper-1-quiet-${tag}` }), 200);
    expect(result).toMatchObject({ text: "", duration_s: 1 });
    const mp3 = await expectJson<Transcript>(await stt(owner, silentMp3(2), { provider: "elevenlabs", model: `scribe_v1-quiet-${tag}` }), 200);
    expect(mp3.duration_s).toBeCloseTo(2, 1);
  });

  it("refuses empty, truncated, non-audio, over-long and missing uploads with clear problems, calling no provider", async () => {
    const owner = await signUp("stt-bad");
    const model = `whisper-1-bad-${tag}`;
    const wav = recordings[0]?.wavBytes as Uint8Array;
    await expectProblem(await stt(owner, new Uint8Array(0), { model }), 422);
    const cut = await expectProblem(await stt(owner, wav.slice(0, 2000), { model }), 422);
    expect(cut.errors?.[0]?.path).toBe("file");
    const pdf = await expectProblem(await stt(owner, new TextEncoder().encode("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"), { model }), 415);
    expect(pdf.detail).toContain("ulaw_8000");
    await expectProblem(await stt(owner, new TextEncoder().encode("hello\u0000world, not audio at all"), { model }), 415);
    // Raw u-law is only taken when declared: undeclared, its bytes are not recognisable audio.
    await expectProblem(await stt(owner, recordings[0]?.ulawBytes as Uint8Array, { model }), 415);
    const tooLong = await fetchWithEnv(sttRequest(owner, wav, { model }), { SPEECH_MAX_AUDIO_SECONDS: "2" });
    expect((await expectProblem(tooLong, 413)).detail).toContain("at most 2 s");
    const tooBig = await fetchWithEnv(sttRequest(owner, wav, { model }), { SPEECH_MAX_UPLOAD_BYTES: "2048" });
    await expectProblem(tooBig, 413);
    const noFile = new FormData();
    noFile.append("file", "just text");
    const textField = await SELF.fetch(
      new Request("http://api.test/v1/stt", {
        method: "POST",
        headers: { Authorization: `Bearer ${owner.access_token}`, "X-Org-Id": owner.orgId },
        body: noFile,
      }),
    );
    expect((await expectProblem(textField, 422)).errors?.[0]?.path).toBe("file");
    await expectProblem(await stt(owner, wav, { model, language: "english\u0000" }), 422);
    await expectProblem(await stt(owner, wav, { model, provider: "acme" }), 422);
    expect(await fakeOpenAIAudio.requests(model)).toEqual([]);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(1000);
  });

  it("turns provider refusals, outages and timeouts into 502/503/504 and gives the credits back", async () => {
    const owner = await signUp("stt-fail");
    const wav = recordings[1]?.wavBytes as Uint8Array;
    const eleven = `scribe_v1-fail-${tag}`;
    await fakeElevenLabs.fail(eleven, [{ status: 401, body: elevenLabsErrorBody("invalid_api_key", "Invalid API key") }]);
    const refused = await expectProblem(await stt(owner, wav, { provider: "elevenlabs", model: eleven }), 502);
    expect(refused.detail).toMatch(/ElevenLabs refused the request: .*Invalid API key/);
    await fakeElevenLabs.fail(eleven, [{ status: 500, body: { detail: { status: "internal", message: "boom" } } }]);
    expect((await expectProblem(await stt(owner, wav, { provider: "elevenlabs", model: eleven }), 502)).detail).toContain("ElevenLabs failed");
    const openai = `whisper-1-fail-${tag}`;
    const overloaded = { status: 503, body: openAIErrorBody("The engine is currently overloaded") };
    await fakeOpenAIAudio.fail(openai, [overloaded, overloaded]);
    await expectProblem(await stt(owner, wav, { provider: "openai", model: openai }), 503);
    await fakeElevenLabs.delay(eleven, 1500);
    const slow = await fetchWithEnv(sttRequest(owner, wav, { provider: "elevenlabs", model: eleven }), { SPEECH_TIMEOUT_MS: "300" });
    expect((await expectProblem(slow, 504)).detail).toContain("did not answer in time");
    expect(await getBalance(testCtx(), owner.orgId)).toBe(1000);
    const holds = await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId));
    expect(holds.map((h) => h.status)).toEqual(["released", "released", "released", "released"]);
  });

  it("answers 503 naming the variable when the provider has no key, before holding credits", async () => {
    const owner = await signUp("stt-nokey");
    const wav = recordings[0]?.wavBytes as Uint8Array;
    const response = await fetchWithEnv(sttRequest(owner, wav, { provider: "elevenlabs" }), { ELEVENLABS_API_KEY: undefined });
    expect((await expectProblem(response, 503)).detail).toContain("ELEVENLABS_API_KEY");
    const none = await fetchWithEnv(sttRequest(owner, wav, { provider: "openai" }), { OPENAI_API_KEY: undefined });
    expect((await expectProblem(none, 503)).detail).toContain("OPENAI_API_KEY");
    expect(await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId))).toEqual([]);
  });
});

describe("text to speech", () => {
  it("streams real audio of the asked format with its Content-Type and charges per character", async () => {
    const owner = await signUp("tts-stream");
    const text = "Your table for four is booked at seven tonight.";
    const mp3 = await tts(owner, { text, provider: "openai", model: `gpt-4o-mini-tts-s-${tag}`, voice: "coral" });
    expect(mp3.status).toBe(200);
    expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
    expect(Number(mp3.headers.get("x-credits-charged"))).toBeGreaterThanOrEqual(1);
    const frames = parseMp3(new Uint8Array(await mp3.arrayBuffer()));
    expect(frames?.durationSeconds ?? 0).toBeGreaterThan(1);
    const voice = `voice-ulaw-${tag}`;
    const ulaw = await tts(owner, { text, provider: "elevenlabs", voice, format: "ulaw_8000" });
    expect(ulaw.headers.get("content-type")).toBe("audio/basic");
    const bytes = new Uint8Array(await ulaw.arrayBuffer());
    expect(bytes.length).toBeGreaterThan(8000);
    const [sent] = await fakeElevenLabs.requests(voice);
    expect(sent?.path).toContain("output_format=ulaw_8000");
    const wav = await tts(owner, { text, provider: "openai", model: `tts-1-w-${tag}`, format: "wav" });
    expect(parseWav(new Uint8Array(await wav.arrayBuffer()))?.sampleRate).toBe(24000);
    const events = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, owner.orgId));
    expect(events.map((e) => [e.feature, e.characters])).toEqual([
      ["speech.tts", text.length],
      ["speech.tts", text.length],
      ["speech.tts", text.length],
    ]);
  });

  it("refuses empty or over-long text and a format the provider does not offer, with 422", async () => {
    const owner = await signUp("tts-bad");
    expect((await expectProblem(await tts(owner, { text: "   " }), 422)).errors?.[0]?.path).toBe("text");
    const long = await fetchWithEnv(
      new Request("http://api.test/v1/tts", {
        method: "POST",
        headers: { Authorization: `Bearer ${owner.access_token}`, "X-Org-Id": owner.orgId, "Content-Type": "application/json" },
        body: JSON.stringify({ text: "a".repeat(50) }),
      }),
      { SPEECH_MAX_TEXT_CHARS: "20" },
    );
    expect((await expectProblem(long, 422)).errors?.[0]?.message).toContain("at most 20");
    const format = await expectProblem(await tts(owner, { text: "hi", provider: "openai", format: "ulaw_8000" }), 422);
    expect(format.errors?.[0]?.message).toContain("choose one of");
    await expectProblem(await tts(owner, { text: "hi", format: "wma" }), 422);
    await expectProblem(await tts(owner, { text: "hi\u0000" }), 422);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(1000);
  });

  it("stores audio behind a link that works without signing in until it expires; members read it, others cannot", async () => {
    const owner = await signUp("tts-store");
    const stored = await expectJson<{ id: string; url: string; content_type: string; bytes: number; expires_at: string; usage: { credits: number } }>(
      await tts(owner, { text: "Stored for later.", provider: "openai", model: `tts-1-st-${tag}`, store: true }),
      201,
    );
    expect(stored).toMatchObject({ content_type: "audio/mpeg" });
    const url = new URL(stored.url);
    const viaLink = await SELF.fetch(`http://api.test${url.pathname}${url.search}`);
    expect(viaLink.status).toBe(200);
    expect(new Uint8Array(await viaLink.arrayBuffer()).length).toBe(stored.bytes);
    await expectProblem(await SELF.fetch(`http://api.test${url.pathname}?token=wrong`), 404);
    expect((await call(`/v1/audio/${stored.id}`, { token: owner.access_token, orgId: owner.orgId })).status).toBe(200);
    const stranger = await signUp("tts-stranger");
    await expectProblem(await call(`/v1/audio/${stored.id}`, { token: stranger.access_token, orgId: stranger.orgId }), 404);
    await expectProblem(await call("/v1/audio/not-an-id%00", { token: owner.access_token, orgId: owner.orgId }), 404);

    // Past the link's hour the link stops; past retention the cleanup removes the file and its row.
    await testCtx()
      .db.update(audioFiles)
      .set({ linkExpiresAt: new Date(Date.now() - 1000) })
      .where(eq(audioFiles.id, stored.id));
    await expectProblem(await SELF.fetch(`http://api.test${url.pathname}${url.search}`), 404);
    const [row] = await testCtx().db.select().from(audioFiles).where(eq(audioFiles.id, stored.id));
    await testCtx()
      .db.update(audioFiles)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(audioFiles.id, stored.id));
    expect(await deleteExpiredAudio(testCtx())).toBeGreaterThanOrEqual(1);
    expect(await testCtx().db.select().from(audioFiles).where(eq(audioFiles.id, stored.id))).toEqual([]);
    expect(await testCtx().env.FILES.get(row?.r2Key ?? "")).toBeNull();
  });
});

describe("the organisation's speech settings", () => {
  it("choose the provider, models and voice a request gets unless it names its own", async () => {
    const owner = await signUp("speech-settings");
    const settings = (body?: Record<string, unknown>) =>
      call("/v1/org/settings", { method: body ? "PATCH" : "GET", token: owner.access_token, orgId: owner.orgId, body });
    expect(await expectJson(await settings(), 200)).toMatchObject({
      speech: {
        provider: "openai",
        stt_model: "whisper-1",
        tts_model: "gpt-4o-mini-tts",
        voice: "alloy",
        defaults: ["provider", "stt_model", "tts_model", "voice"],
      },
      messages: { payment_receipts: true },
    });
    const model = `scribe_v1-org-${tag}`;
    const voice = `voice-org-${tag}`;
    expect(await expectJson(await settings({ speech: { provider: "elevenlabs", stt_model: model, voice } }), 200)).toMatchObject({
      speech: { provider: "elevenlabs", stt_model: model, tts_model: "eleven_flash_v2_5", voice, defaults: ["tts_model"] },
      messages: { payment_receipts: true },
    });
    const heard = await expectJson<Transcript>(await stt(owner, recordings[2]?.wavBytes as Uint8Array), 200);
    expect(heard).toMatchObject({ provider: "elevenlabs", model, text: recordings[2]?.text });
    await tts(owner, { text: "Hello there." }).then((r) => r.arrayBuffer());
    expect(await fakeElevenLabs.requests(voice)).toHaveLength(1);
    // A request for the other provider gets that provider's defaults, not the organisation's ElevenLabs model.
    expect(await expectJson<Transcript>(await stt(owner, recordings[2]?.wavBytes as Uint8Array, { provider: "openai" }), 200)).toMatchObject({
      provider: "openai",
      model: "whisper-1",
    });
    await expectProblem(await settings({ speech: { provider: "acme" } }), 422);
    await expectProblem(await settings({ speech: { voice: "x\u0000" } }), 422);
    await expectProblem(await settings({ colour: "blue" }), 422);
    expect(
      (await expectJson<{ speech: { provider: string } }>(await settings({ speech: { provider: null, stt_model: null, voice: null } }), 200)).speech.provider,
    ).toBe("openai");
  });
});

describe("audio chat", () => {
  interface AudioChatAnswer {
    transcript: string;
    query_id: string | null;
    conversation_id: string | null;
    sql: string;
    columns: { name: string }[];
    rows: unknown[][];
    truncated: boolean;
    answer_text: string;
    audio_url: string;
    audio_expires_at: string;
    usage: { credits: number };
  }

  interface LedgerEntry {
    kind: string;
    amount: number;
    reference: { type: string; id: string };
  }

  /** A problem of a step after listening: it says what was heard and what the pipeline is charged. */
  type PipelineProblem = Awaited<ReturnType<typeof expectProblem>> & {
    transcript?: string;
    reasons?: { message: string }[];
    usage?: { credits: number };
  };
  const expectPipelineProblem = async (response: Response, status: number) => (await expectProblem(response, status)) as PipelineProblem;

  const FIRST_ARTISTS = "SELECT name FROM artist ORDER BY artist_id LIMIT 3";
  const sqlAnswer = (sql: string) => ({ tool_calls: [{ name: "answer_with_sql", arguments: { sql, explanation: "Does what was asked." } }] });
  let variant = 0;

  /**
   * A recording of the shared set, one sample nudged so its bytes are new, registered with
   * `question` as its transcript: the fakes then "hear" that question without touching what other
   * tests registered for the original recording.
   */
  async function spokenQuestion(question: string): Promise<Uint8Array> {
    const original = parseWav(recordings[0]?.wavBytes as Uint8Array);
    if (!original?.samples) throw new Error("the shared recording is not a PCM WAV");
    const samples = Int16Array.from(original.samples);
    samples[0] = (Math.floor(Math.random() * 0x7fff) + ++variant) & 0x7fff;
    const bytes = writeWav(samples, original.sampleRate);
    await fakeSpeech.registerTranscript(bytes, question, "en");
    return bytes;
  }

  function audioChat(token: string, bytes: Uint8Array, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append("file", new File([bytes], "question.wav", { type: "audio/wav" }));
    return SELF.fetch("http://api.test/v1/query/audio-chat", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "CF-Connecting-IP": uniqueIp(), ...headers },
      body: form,
    });
  }

  async function linkChinook(owner: SignedUp, url = inject("chinookReaderUrl")): Promise<string> {
    return (await expectJson<{ id: string }>(await call("/v1/databases", { token: owner.access_token, body: { name: "Chinook", url } }), 201)).id;
  }

  /** The organisation's ledger entries for credit holds (everything but the plan's grant), grouped by hold. */
  async function holdEntries(owner: SignedUp): Promise<Map<string, string[]>> {
    const page = await expectJson<{ data: LedgerEntry[] }>(await call("/v1/credits/ledger?limit=100", { token: owner.access_token }), 200);
    const holds = new Map<string, string[]>();
    for (const entry of page.data.filter((e) => e.reference.type === "reservation").reverse()) {
      holds.set(entry.reference.id, [...(holds.get(entry.reference.id) ?? []), entry.kind]);
    }
    return holds;
  }

  async function usageOf(orgId: string) {
    const events = await testCtx().db.select().from(usageEvents).where(eq(usageEvents.orgId, orgId));
    return events.map((e) => ({ feature: e.feature, model: e.model, audioSeconds: e.audioSeconds, characters: e.characters, credits: e.credits }));
  }

  it("answers a spoken question about Chinook with its rows, a spoken sentence and a link to the audio", async () => {
    const owner = await signUp("voice-chinook");
    const database_id = await linkChinook(owner);
    const model = `sql-voice-${tag}`;
    const sentence = "The first three artists are AC/DC, Accept and Aerosmith.";
    await fakeOpenAI.script(model, [sqlAnswer(FIRST_ARTISTS), { content: sentence }]);
    const before = await getBalance(testCtx(), owner.orgId);

    const result = await expectJson<AudioChatAnswer>(
      await audioChat(owner.access_token, await spokenQuestion("Which three artists come first?"), { database_id, model }),
      200,
    );
    expect(result).toMatchObject({
      transcript: "Which three artists come first?",
      sql: FIRST_ARTISTS,
      columns: [expect.objectContaining({ name: "name" })],
      rows: [["AC/DC"], ["Accept"], ["Aerosmith"]],
      truncated: false,
      answer_text: sentence,
    });
    expect(result.query_id).toMatch(/^qrn_/);
    expect(result.usage.credits).toBeGreaterThan(0);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - result.usage.credits);
    // The answer was written from the rows the database returned, not from the question alone.
    const [, answerRequest] = await fakeOpenAI.requests(model);
    expect(JSON.stringify(answerRequest?.body.messages)).toContain("Aerosmith");

    // The link plays without signing in: real MP3 of the spoken sentence.
    const url = new URL(result.audio_url);
    expect(new Date(result.audio_expires_at).getTime()).toBeGreaterThan(Date.now());
    const audio = await SELF.fetch(`http://api.test${url.pathname}${url.search}`);
    expect(audio.status).toBe(200);
    expect(audio.headers.get("content-type")).toBe("audio/mpeg");
    expect(parseMp3(new Uint8Array(await audio.arrayBuffer()))?.durationSeconds ?? 0).toBeGreaterThan(1);
  });

  it("records the spoken question in the query history as asked by voice", async () => {
    const owner = await signUp("voice-history");
    const database_id = await linkChinook(owner);
    const model = `sql-voice-history-${tag}`;
    await fakeOpenAI.script(model, [sqlAnswer("SELECT count(*)::int AS genres FROM genre"), { content: "There are 25 genres." }]);
    const result = await expectJson<AudioChatAnswer>(
      await audioChat(owner.access_token, await spokenQuestion("How many genres are there?"), { database_id, model }),
      200,
    );
    expect(result).toMatchObject({ rows: [[25]], answer_text: "There are 25 genres." });
    const history = await expectJson<{ data: { id: string; prompt: string; source: string; status: string; row_count: number }[] }>(
      await call(`/v1/query/history?database_id=${database_id}`, { token: owner.access_token }),
      200,
    );
    expect(history.data).toEqual([
      expect.objectContaining({ id: result.query_id, prompt: "How many genres are there?", source: "voice", status: "succeeded", row_count: 1 }),
    ]);
  });

  it("refuses SQL the guard does not allow with 422, the transcript and the reasons; nothing runs and nothing is spoken", async () => {
    const owner = await signUp("voice-refused");
    // Linked as the owning role on purpose: only the guard stands between the model and the table.
    const database_id = await linkChinook(owner, inject("chinookOwnerUrl"));
    const model = `sql-voice-refused-${tag}`;
    const voice = `voice-refused-${tag}`;
    await fakeOpenAI.script(model, [sqlAnswer("DELETE FROM invoice_line")]);
    const before = await getBalance(testCtx(), owner.orgId);

    const response = await audioChat(owner.access_token, await spokenQuestion("Delete all the invoice lines."), {
      database_id,
      model,
      provider: "elevenlabs",
      voice,
    });
    const problem = await expectPipelineProblem(response, 422);
    expect(problem.type).toContain("sql-refused");
    expect(problem.transcript).toBe("Delete all the invoice lines.");
    expect(problem.reasons?.length).toBeGreaterThan(0);
    expect(problem.errors?.[0]).toMatchObject({ path: "sql" });
    // The model wrote SQL once and was not asked for a spoken answer; no speech was made.
    expect(await fakeOpenAI.requests(model)).toHaveLength(1);
    expect(await fakeElevenLabs.requests(voice)).toEqual([]);

    // Hearing the question and writing the SQL are charged, once; the rest of the hold came back.
    const charged = before - (await getBalance(testCtx(), owner.orgId));
    expect(charged).toBeGreaterThan(0);
    expect(problem.usage?.credits).toBe(charged);
    expect([...(await holdEntries(owner)).values()]).toEqual([["reservation", "release", "usage"]]);
    expect((await usageOf(owner.orgId)).map((e) => e.model).sort()).toEqual([model, "scribe_v1"].sort());

    const history = await expectJson<{ data: { source: string; status: string; sql: string }[] }>(
      await call(`/v1/query/history?database_id=${database_id}`, { token: owner.access_token }),
      200,
    );
    expect(history.data).toEqual([expect.objectContaining({ source: "voice", status: "refused", sql: "DELETE FROM invoice_line" })]);
    // Every invoice line is still there.
    await fakeOpenAI.script(model, [sqlAnswer("SELECT count(*)::int AS n FROM invoice_line")]);
    const count = await expectJson<{ rows: unknown[][] }>(
      await call("/v1/query/chat", { token: owner.access_token, body: { database_id, prompt: "How many invoice lines?", model } }),
      200,
    );
    expect(count.rows).toEqual([[2240]]);
  });

  it("holds credits once and settles once: the ledger, the usage records and the balance agree with usage.credits", async () => {
    const owner = await signUp("voice-credits");
    const database_id = await linkChinook(owner);
    const model = `sql-voice-credits-${tag}`;
    const sentence = "The first artist is AC/DC.";
    await fakeOpenAI.script(model, [sqlAnswer("SELECT name FROM artist ORDER BY artist_id LIMIT 1"), { content: sentence }]);
    const before = await getBalance(testCtx(), owner.orgId);

    const result = await expectJson<AudioChatAnswer>(
      await audioChat(owner.access_token, await spokenQuestion("Who is the first artist?"), { database_id, model }),
      200,
    );
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - result.usage.credits);
    const holds = await holdEntries(owner);
    expect([...holds.values()]).toEqual([["reservation", "release", "usage"]]);
    const [hold] = await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId));
    expect(hold).toMatchObject({ id: [...holds.keys()][0], feature: "query.audio_chat", status: "settled", charged: result.usage.credits });

    // One usage record per provider and model of the pipeline, all under the audio chat feature.
    const seconds = (recordings[0]?.duration_ms ?? 0) / 1000;
    const usage = await usageOf(owner.orgId);
    expect(usage).toHaveLength(3);
    expect(usage.find((e) => e.model === "whisper-1")).toMatchObject({ feature: "query.audio_chat", characters: 0 });
    expect(usage.find((e) => e.model === "whisper-1")?.audioSeconds).toBeCloseTo(seconds, 2);
    expect(usage.find((e) => e.model === "gpt-4o-mini-tts")).toMatchObject({ feature: "query.audio_chat", characters: sentence.length, audioSeconds: 0 });
    expect(usage.find((e) => e.model === model)).toMatchObject({ feature: "query.audio_chat" });

    const report = await expectJson<{
      used_credits: number;
      remaining_credits: number;
      by_feature: { feature: string; credits: number; events: number }[];
      by_model: { model: string; input_tokens: number; output_tokens: number; audio_seconds: number; characters: number; credits: number }[];
    }>(await call("/v1/quota/usage", { token: owner.access_token }), 200);
    expect(report.by_feature).toEqual([{ feature: "query.audio_chat", credits: result.usage.credits, events: 3 }]);
    expect(report).toMatchObject({ used_credits: result.usage.credits, remaining_credits: before - result.usage.credits });
    const byModel = new Map(report.by_model.map((m) => [m.model, m]));
    expect(byModel.get("whisper-1")?.audio_seconds).toBeCloseTo(seconds, 2);
    expect(byModel.get("gpt-4o-mini-tts")?.characters).toBe(sentence.length);
    expect(byModel.get(model)?.input_tokens).toBeGreaterThan(0);
    expect(byModel.get(model)?.output_tokens).toBeGreaterThan(0);
    expect(report.by_model.reduce((sum, m) => sum + m.credits, 0)).toBe(result.usage.credits);
  });

  it("answers with the spoken audio itself when asked for audio, the transcript and SQL in headers", async () => {
    const owner = await signUp("voice-audio");
    const database_id = await linkChinook(owner);
    const model = `sql-voice-audio-${tag}`;
    const sentence = "The first three artists are AC/DC, Accept and Aerosmith.";
    await fakeOpenAI.script(model, [sqlAnswer(FIRST_ARTISTS), { content: sentence }]);
    const before = await getBalance(testCtx(), owner.orgId);

    const response = await audioChat(
      owner.access_token,
      await spokenQuestion("Which three artists come first?"),
      { database_id, model },
      { Accept: "audio/mpeg" },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("audio/mpeg");
    expect(decodeURIComponent(response.headers.get("x-transcript") ?? "")).toBe("Which three artists come first?");
    expect(decodeURIComponent(response.headers.get("x-sql") ?? "")).toBe(FIRST_ARTISTS);
    expect(decodeURIComponent(response.headers.get("x-answer-text") ?? "")).toBe(sentence);
    const credits = Number(response.headers.get("x-credits-charged"));
    expect(credits).toBeGreaterThan(0);
    expect(parseMp3(new Uint8Array(await response.arrayBuffer()))?.durationSeconds ?? 0).toBeGreaterThan(1);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - credits);
    // Played straight back: nothing kept in storage.
    expect(await testCtx().db.select().from(audioFiles).where(eq(audioFiles.orgId, owner.orgId))).toEqual([]);
  });

  it("answers from the organisation's own data when no database is named, needing analytics:query rather than databases:query", async () => {
    const owner = await signUp("voice-own-data");
    for (const name of ["Asha", "Bela"]) await expectJson(await call("/v1/customers", { token: owner.access_token, body: { name } }), 201);
    const model = `sql-voice-own-${tag}`;
    await fakeOpenAI.script(model, [sqlAnswer("SELECT count(*) AS customers FROM customers"), { content: "You have 2 customers." }]);
    const analyst = await expectJson<{ key: string }>(
      await call("/v1/api-keys", { token: owner.access_token, body: { name: "own data by voice", permissions: ["ai:use", "analytics:query"] } }),
      201,
    );

    const result = await expectJson<AudioChatAnswer>(await audioChat(analyst.key, await spokenQuestion("How many customers do I have?"), { model }), 200);
    expect(result).toMatchObject({
      transcript: "How many customers do I have?",
      query_id: null,
      columns: [expect.objectContaining({ name: "customers" })],
      rows: [["2"]],
      answer_text: "You have 2 customers.",
    });
    expect(result.usage.credits).toBeGreaterThan(0);
  });

  it("answers 422 when nothing was heard, charging only the listening and calling no model", async () => {
    const owner = await signUp("voice-silence");
    const model = `sql-voice-silence-${tag}`;
    const before = await getBalance(testCtx(), owner.orgId);
    const silence = writeWav(new Int16Array(32000), 16000);
    const problem = await expectPipelineProblem(await audioChat(owner.access_token, silence, { model }), 422);
    expect(problem).toMatchObject({ transcript: "", errors: [{ path: "file", message: "no speech" }] });
    expect(await fakeOpenAI.requests(model)).toEqual([]);
    // The two seconds were transcribed and are charged like /v1/stt charges silence; the rest of the hold came back.
    const usage = await usageOf(owner.orgId);
    expect(usage).toEqual([expect.objectContaining({ feature: "query.audio_chat", model: "whisper-1", audioSeconds: 2 })]);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - (usage[0]?.credits ?? 0));
    expect(problem.usage?.credits).toBe(usage[0]?.credits);
    expect([...(await holdEntries(owner)).values()]).toEqual([["reservation", "release", "usage"]]);
  });

  it("answers 502 when speaking fails, charging what was used before and giving back the rest", async () => {
    const owner = await signUp("voice-tts-fail");
    const database_id = await linkChinook(owner);
    const model = `sql-voice-tts-fail-${tag}`;
    const voice = `voice-tts-fail-${tag}`;
    await fakeOpenAI.script(model, [sqlAnswer(FIRST_ARTISTS), { content: "The first three artists are AC/DC, Accept and Aerosmith." }]);
    await fakeElevenLabs.fail(voice, [{ status: 500, body: elevenLabsErrorBody("internal", "synthesis crashed") }]);
    const before = await getBalance(testCtx(), owner.orgId);

    const response = await audioChat(owner.access_token, await spokenQuestion("Which three artists come first?"), {
      database_id,
      model,
      provider: "elevenlabs",
      voice,
    });
    const problem = await expectPipelineProblem(response, 502);
    expect(problem).toMatchObject({ transcript: "Which three artists come first?", provider: "elevenlabs", provider_status: 500 });
    expect(problem.detail).toContain("ElevenLabs failed");
    expect(await fakeElevenLabs.requests(voice)).toHaveLength(1);
    // Listening and both model calls are charged once; the speech that never came is not.
    const usage = await usageOf(owner.orgId);
    expect(usage.map((e) => e.model).sort()).toEqual([model, "scribe_v1"].sort());
    expect(usage.every((e) => e.feature === "query.audio_chat" && e.characters === 0)).toBe(true);
    const charged = usage.reduce((sum, e) => sum + e.credits, 0);
    expect(charged).toBeGreaterThan(0);
    expect(await getBalance(testCtx(), owner.orgId)).toBe(before - charged);
    expect(problem.usage?.credits).toBe(charged);
    expect([...(await holdEntries(owner)).values()]).toEqual([["reservation", "release", "usage"]]);
    expect(await testCtx().db.select().from(audioFiles).where(eq(audioFiles.orgId, owner.orgId))).toEqual([]);
  });

  it("refuses an API key without databases:query with 403, before hearing anything or holding credits", async () => {
    const owner = await signUp("voice-key");
    const database_id = await linkChinook(owner);
    const created = await expectJson<{ key: string }>(
      await call("/v1/api-keys", { token: owner.access_token, body: { name: "speech only", permissions: ["ai:use", "databases:read"] } }),
      201,
    );
    const model = `sql-voice-key-${tag}`;
    const bytes = await spokenQuestion("Which three artists come first?");
    const problem = await expectProblem(await audioChat(created.key, bytes, { database_id, model }), 403);
    expect(problem.detail).toContain("databases:query");
    expect(await fakeOpenAI.requests(model)).toEqual([]);
    expect(await testCtx().db.select().from(creditReservations).where(eq(creditReservations.orgId, owner.orgId))).toEqual([]);
  });
});
