/**
 * The speech fakes themselves (tests/fakes/elevenlabs.ts and the OpenAI fake's audio endpoints):
 * ElevenLabs through fetch as its wire format says, OpenAI through the official SDK, with the spoken
 * recordings of ../shared/data/audio. Every test uses its own model or voice id (the fakes' scope).
 */
import OpenAI, { toFile } from "openai";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  mulawDecode,
  parseAdts,
  parseFlacInfo,
  parseMp3,
  parseOggOpus,
  parseWav,
  pcm16Samples,
  rms,
  speechDurationSeconds,
  WAV_MULAW,
  wrapWav,
  writeWav,
} from "./fakes/audio";
import {
  type AudioRecording,
  audioData,
  audioManifest,
  ELEVENLABS_TEST_API_KEY,
  elevenLabsErrorBody,
  fakeElevenLabs,
  fakeOpenAIAudio,
  fakeSpeech,
  openAIErrorBody,
} from "./harness/fakes";

const elevenlabs = (path: string) => `${inject("elevenlabsBaseUrl")}${path}`;
const openai = () => new OpenAI({ apiKey: "sk-test-fake", baseURL: `${inject("openaiBaseUrl")}/v1`, maxRetries: 0 });

interface ElevenLabsWord {
  text: string;
  start: number;
  end: number;
  type: "word" | "spacing";
}
interface ElevenLabsTranscript {
  language_code: string;
  language_probability: number;
  text: string;
  words: ElevenLabsWord[];
}

function upload(bytes: Uint8Array, filename: string, fields: Record<string, string>, type = "application/octet-stream"): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new File([bytes], filename, { type }));
  return form;
}

function speechToText(form: FormData, key: string | null = ELEVENLABS_TEST_API_KEY): Promise<Response> {
  return fetch(elevenlabs("/v1/speech-to-text"), { method: "POST", headers: key === null ? {} : { "xi-api-key": key }, body: form });
}

function textToSpeech(voiceId: string, body: unknown, outputFormat?: string, stream = false): Promise<Response> {
  const query = outputFormat ? `?output_format=${outputFormat}` : "";
  return fetch(elevenlabs(`/v1/text-to-speech/${voiceId}${stream ? "/stream" : ""}${query}`), {
    method: "POST",
    headers: { "xi-api-key": ELEVENLABS_TEST_API_KEY, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

function expectTimedWithin(words: { start: number; end: number }[], seconds: number) {
  let last = 0;
  for (const word of words) {
    expect(word.start).toBeGreaterThanOrEqual(last);
    expect(word.end).toBeGreaterThanOrEqual(word.start);
    last = word.end;
  }
  expect(last).toBeLessThanOrEqual(seconds);
  expect(last).toBeGreaterThan(seconds * 0.8);
}

const recordings: { recording: AudioRecording; wav: Uint8Array; ulaw: Uint8Array }[] = [];
const silence = writeWav(new Int16Array(16000), 16000);

beforeAll(async () => {
  for (const recording of await audioManifest()) {
    const [wav, ulaw] = await Promise.all([audioData(recording.wav), audioData(recording.ulaw)]);
    await fakeSpeech.registerTranscript(wav, recording.text, "en");
    await fakeSpeech.registerTranscript(ulaw, recording.text, "en");
    recordings.push({ recording, wav, ulaw });
  }
});

describe("the shared audio data", () => {
  it("serves the recordings and answers 404 for other names", async () => {
    expect(recordings).toHaveLength(5);
    const missing = await fetch(`${inject("harnessUrl")}/audio-data/absent.wav`);
    expect(missing.status).toBe(404);
    expect((await fetch(`${inject("harnessUrl")}/audio-data/..%2Fmanifest.json`)).status).toBe(404);
  });
});

describe("ElevenLabs fake: speech-to-text", () => {
  it("refuses a missing or wrong xi-api-key with ElevenLabs' 401", async () => {
    const form = () => upload(silence, "silence.wav", { model_id: "scribe_auth" });
    const none = await speechToText(form(), null);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ detail: { status: "needs_authorization" } });
    const wrong = await speechToText(form(), "xi-wrong");
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ detail: { status: "invalid_api_key", message: "Invalid API key" } });
    expect(await fakeElevenLabs.requests("scribe_auth")).toEqual([]);
  });

  it("answers the registered transcript of every recording, as WAV and as raw 8 kHz u-law, timed over its duration", async () => {
    for (const { recording, wav, ulaw } of recordings) {
      const seconds = recording.duration_ms / 1000;
      for (const [bytes, name, type] of [
        [wav, recording.wav, "audio/wav"],
        [ulaw, recording.ulaw, "audio/basic"],
      ] as const) {
        const response = await speechToText(upload(bytes, name, { model_id: "scribe_v1_fakes" }, type));
        expect(response.status).toBe(200);
        const body = (await response.json()) as ElevenLabsTranscript;
        expect(body.text).toBe(recording.text);
        expect(body.language_code).toBe("eng");
        const words = body.words.filter((w) => w.type === "word");
        expect(words.map((w) => w.text).join(" ")).toBe(recording.text);
        expect(body.words.filter((w) => w.type === "spacing")).toHaveLength(words.length - 1);
        expectTimedWithin(body.words, seconds);
      }
    }
    const requests = await fakeElevenLabs.requests("scribe_v1_fakes");
    expect(requests).toHaveLength(10);
    // Recorded as a summary: the fields and the file's size and digest, never its bytes.
    expect(requests[1]?.body).toMatchObject({
      model_id: "scribe_v1_fakes",
      file: { filename: recordings[0]?.recording.ulaw, size: recordings[0]?.ulaw.length },
    });
  });

  it("hears silence as an empty text, unknown audio as its fixed fake text, and 16 kHz raw PCM by file_format", async () => {
    const quiet = (await (await speechToText(upload(silence, "quiet.wav", { model_id: "scribe_silence" }))).json()) as ElevenLabsTranscript;
    expect(quiet).toMatchObject({ text: "", words: [] });

    const tone = writeWav(
      Int16Array.from({ length: 8000 }, (_, i) => Math.round(8000 * Math.sin(i / 5))),
      8000,
    );
    const unknown = (await (await speechToText(upload(tone, "tone.wav", { model_id: "scribe_silence" }))).json()) as ElevenLabsTranscript;
    expect(unknown.text).toBe("This is a fake transcript from the ElevenLabs fake.");
    expectTimedWithin(unknown.words, 1);

    const wav = parseWav(recordings[0]?.wav as Uint8Array);
    const pcm = wav?.data as Uint8Array;
    const raw = (await (
      await speechToText(upload(pcm, "speech.pcm", { model_id: "scribe_silence", file_format: "pcm_s16le_16", language_code: "en" }))
    ).json()) as ElevenLabsTranscript;
    // The data chunk of a registered WAV is the same audio: the look-up finds it.
    expect(raw.text).toBe(recordings[0]?.recording.text);
    expectTimedWithin(raw.words, pcm.length / 32000);
  });

  it("answers 422 without a file or model_id and 400 for bytes that are not audio", async () => {
    const form = new FormData();
    form.append("model_id", "scribe_invalid");
    const noFile = await speechToText(form);
    expect(noFile.status).toBe(422);
    expect(await noFile.json()).toMatchObject({ detail: [{ type: "missing", loc: ["body", "file"] }] });
    const noModel = await speechToText(upload(silence, "a.wav", {}));
    expect(noModel.status).toBe(422);
    expect(await noModel.json()).toMatchObject({ detail: [{ loc: ["body", "model_id"] }] });
    const text = await speechToText(upload(new TextEncoder().encode("not audio at all"), "notes.txt", { model_id: "scribe_invalid" }, "text/plain"));
    expect(text.status).toBe(400);
    expect(await text.json()).toMatchObject({ detail: { status: "invalid_content" } });
  });

  it("answers scripted failures and delays for the model, then the real answer", async () => {
    await fakeElevenLabs.fail("scribe_flaky", [{ status: 429, body: elevenLabsErrorBody("too_many_concurrent_requests", "Too many requests") }]);
    await fakeElevenLabs.delay("scribe_flaky", 150);
    const started = Date.now();
    const failed = await speechToText(upload(silence, "a.wav", { model_id: "scribe_flaky" }));
    expect(failed.status).toBe(429);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(await failed.json()).toEqual({ detail: { status: "too_many_concurrent_requests", message: "Too many requests" } });
    expect((await speechToText(upload(silence, "a.wav", { model_id: "scribe_flaky" }))).status).toBe(200);
    expect(await fakeElevenLabs.requests("scribe_flaky")).toHaveLength(2);
  });
});

describe("ElevenLabs fake: text-to-speech", () => {
  const text = "Your booking is confirmed for tomorrow at ten.";
  const expected = speechDurationSeconds(text);

  it("answers real MP3 frames by default, raw PCM16, raw 8 kHz u-law, Ogg Opus and WAV as output_format asks", async () => {
    const mp3 = await textToSpeech("voice_formats", { text, model_id: "eleven_multilingual_v2" });
    expect(mp3.status).toBe(200);
    expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
    const frames = parseMp3(new Uint8Array(await mp3.arrayBuffer()));
    expect(frames).toMatchObject({ sampleRate: 44100, channels: 1 });
    expect(frames?.durationSeconds).toBeCloseTo(expected, 1);

    const pcm = new Uint8Array(await (await textToSpeech("voice_formats", { text }, "pcm_16000")).arrayBuffer());
    expect(pcm.length % 2).toBe(0);
    expect(pcm.length / 32000).toBeCloseTo(expected, 2);
    expect(rms(pcm16Samples(pcm))).toBeGreaterThan(0.02);

    const ulawResponse = await textToSpeech("voice_formats", { text }, "ulaw_8000");
    expect(ulawResponse.headers.get("content-type")).toBe("audio/basic");
    const ulaw = new Uint8Array(await ulawResponse.arrayBuffer());
    expect(ulaw.length / 8000).toBeCloseTo(expected, 2);
    expect(rms(mulawDecode(ulaw))).toBeGreaterThan(0.02);

    const opus = parseOggOpus(new Uint8Array(await (await textToSpeech("voice_formats", { text }, "opus_48000_64")).arrayBuffer()));
    expect(opus?.durationSeconds).toBeCloseTo(expected, 1);

    const wav = parseWav(new Uint8Array(await (await textToSpeech("voice_formats", { text }, "wav_22050")).arrayBuffer()));
    expect(wav).toMatchObject({ format: 1, channels: 1, sampleRate: 22050, bitsPerSample: 16 });
    expect(wav?.durationSeconds).toBeCloseTo(expected, 2);

    const longer = new Uint8Array(await (await textToSpeech("voice_formats", { text: `${text} ${text}` }, "pcm_16000")).arrayBuffer());
    expect(longer.length).toBeGreaterThan(pcm.length * 1.8);
    expect((await fakeElevenLabs.requests("voice_formats")).map((r) => r.path)).toContain("/v1/text-to-speech/voice_formats?output_format=ulaw_8000");
  });

  it("streams in several chunks, after a scripted delay before the first byte", async () => {
    await fakeElevenLabs.delay("voice_stream", 200);
    const started = Date.now();
    const response = await textToSpeech("voice_stream", { text }, "ulaw_8000", true);
    const firstByteAfter = Date.now() - started;
    expect(response.status).toBe(200);
    expect(firstByteAfter).toBeGreaterThanOrEqual(190);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const chunks: Uint8Array[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.reduce((sum, c) => sum + c.length, 0) / 8000).toBeCloseTo(expected, 2);
  });

  it("answers 422 without text or for an unknown output_format, 401 without a key, and scripted failures", async () => {
    const noText = await textToSpeech("voice_invalid", { model_id: "eleven_flash_v2_5" });
    expect(noText.status).toBe(422);
    expect(await noText.json()).toMatchObject({ detail: [{ type: "missing", loc: ["body", "text"] }] });
    const badFormat = await textToSpeech("voice_invalid", { text }, "mp3_1_1");
    expect(badFormat.status).toBe(422);
    expect(await badFormat.json()).toMatchObject({ detail: [{ loc: ["query", "output_format"] }] });
    const noKey = await fetch(elevenlabs("/v1/text-to-speech/voice_invalid"), { method: "POST", body: JSON.stringify({ text }) });
    expect(noKey.status).toBe(401);

    await fakeElevenLabs.fail("voice_invalid", [{ status: 503, body: elevenLabsErrorBody("service_unavailable", "Busy") }]);
    expect((await textToSpeech("voice_invalid", { text })).status).toBe(503);
    expect((await textToSpeech("voice_invalid", { text })).status).toBe(200);
  });
});

describe("OpenAI fake: audio through the official SDK", () => {
  it("transcribes each recording's WAV: verbose_json with word timings, json with usage, text", async () => {
    for (const { recording, wav } of recordings) {
      const verbose = await openai().audio.transcriptions.create({
        file: await toFile(wav, recording.wav, { type: "audio/wav" }),
        model: "whisper-1-fakes",
        response_format: "verbose_json",
        timestamp_granularities: ["word", "segment"],
      });
      expect(verbose.text).toBe(recording.text);
      expect(verbose.language).toBe("english");
      expect(verbose.duration).toBeCloseTo(recording.duration_ms / 1000, 2);
      expect(verbose.words?.map((w) => w.word).join(" ")).toBe(recording.text);
      expectTimedWithin(verbose.words ?? [], verbose.duration);
      expect(verbose.segments?.[0]?.text.trim()).toBe(recording.text);
    }
    const [first] = recordings;
    const file = () => toFile(first?.wav as Uint8Array, "speech.wav");
    const json = await openai().audio.transcriptions.create({ file: await file(), model: "whisper-1-fakes" });
    expect(json).toEqual({ text: first?.recording.text, usage: { type: "duration", seconds: 4 } });
    const tokens = await openai().audio.transcriptions.create({ file: await file(), model: "gpt-4o-mini-transcribe-fakes" });
    expect(tokens.usage).toMatchObject({ type: "tokens", input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    const text = await openai().audio.transcriptions.create({ file: await file(), model: "whisper-1-fakes", response_format: "text" });
    expect(String(text).trim()).toBe(first?.recording.text);

    const [request] = await fakeOpenAIAudio.requests("whisper-1-fakes");
    expect(request?.headers.authorization).toBe("Bearer sk-test-fake");
    expect(request?.body).toMatchObject({ model: "whisper-1-fakes", response_format: "verbose_json", "timestamp_granularities[]": ["word", "segment"] });
  });

  it("knows u-law inside a WAV, hears silence as empty, and refuses raw u-law and verbose_json on gpt-4o models", async () => {
    const [first] = recordings;
    const inWav = wrapWav(first?.ulaw as Uint8Array, 8000, WAV_MULAW);
    const heard = await openai().audio.transcriptions.create({
      file: await toFile(inWav, "call.wav"),
      model: "whisper-ulaw-fakes",
      response_format: "verbose_json",
    });
    expect(heard.text).toBe(first?.recording.text);
    expect(heard.duration).toBeCloseTo((first?.recording.duration_ms ?? 0) / 1000, 2);

    const quiet = await openai().audio.transcriptions.create({ file: await toFile(silence, "quiet.wav"), model: "whisper-ulaw-fakes" });
    expect(quiet.text).toBe("");

    await expect(
      openai().audio.transcriptions.create({ file: await toFile(first?.ulaw as Uint8Array, "call.ulaw"), model: "whisper-ulaw-fakes" }),
    ).rejects.toMatchObject({
      status: 400,
      error: { message: expect.stringContaining("Invalid file format") },
    });
    await expect(
      openai().audio.transcriptions.create({ file: await toFile(inWav, "call.wav"), model: "gpt-4o-transcribe-fakes", response_format: "verbose_json" }),
    ).rejects.toMatchObject({ status: 400, error: { param: "response_format" } });
  });

  it("speaks real MP3, WAV, PCM, FLAC, Ogg Opus and ADTS AAC at 24 kHz, sized to the input", async () => {
    const input = "We open at ten on Saturday.";
    const mp3 = await openai().audio.speech.create({ model: "tts-1-fakes", voice: "alloy", input });
    expect(mp3.headers.get("content-type")).toBe("audio/mpeg");
    const frames = parseMp3(new Uint8Array(await mp3.arrayBuffer()));
    expect(frames?.sampleRate).toBe(24000);
    expect(frames?.durationSeconds).toBeCloseTo(speechDurationSeconds(input), 1);

    const wav = parseWav(
      new Uint8Array(
        await (
          await openai().audio.speech.create({ model: "gpt-4o-mini-tts-fakes", voice: "coral", input, response_format: "wav", instructions: "Cheerful." })
        ).arrayBuffer(),
      ),
    );
    expect(wav).toMatchObject({ format: 1, sampleRate: 24000, bitsPerSample: 16, channels: 1 });
    expect(wav?.durationSeconds).toBeCloseTo(speechDurationSeconds(input), 2);

    const pcm = new Uint8Array(
      await (await openai().audio.speech.create({ model: "tts-1-fakes", voice: "alloy", input, response_format: "pcm", speed: 2 })).arrayBuffer(),
    );
    expect(pcm.length / 48000).toBeCloseTo(speechDurationSeconds(input, 2), 2);

    const speak = async (response_format: "flac" | "opus" | "aac") => {
      const response = await openai().audio.speech.create({ model: "tts-1-fakes", voice: "alloy", input, response_format });
      return { type: response.headers.get("content-type"), bytes: new Uint8Array(await response.arrayBuffer()) };
    };
    const flac = await speak("flac");
    expect(flac.type).toBe("audio/flac");
    expect(parseFlacInfo(flac.bytes)).toMatchObject({ sampleRate: 24000, channels: 1, bitsPerSample: 16 });
    expect(parseFlacInfo(flac.bytes)?.durationSeconds).toBeCloseTo(speechDurationSeconds(input), 2);
    const opus = await speak("opus");
    expect(opus.type).toBe("audio/opus");
    expect(parseOggOpus(opus.bytes)?.durationSeconds).toBeCloseTo(speechDurationSeconds(input), 1);
    const aac = await speak("aac");
    expect(aac.type).toBe("audio/aac");
    expect(parseAdts(aac.bytes)?.sampleRate).toBe(24000);
    expect(parseAdts(aac.bytes)?.durationSeconds).toBeCloseTo(speechDurationSeconds(input), 1);

    const [request] = await fakeOpenAIAudio.requests("gpt-4o-mini-tts-fakes");
    expect(request?.body).toMatchObject({ model: "gpt-4o-mini-tts-fakes", voice: "coral", input, response_format: "wav" });
  });

  it("answers scripted failures and delays for the model in OpenAI's envelope", async () => {
    await fakeOpenAIAudio.fail("tts-flaky-fakes", [{ status: 500, body: openAIErrorBody("The server had an error") }]);
    await expect(openai().audio.speech.create({ model: "tts-flaky-fakes", voice: "alloy", input: "Hello" })).rejects.toMatchObject({
      status: 500,
      error: { message: "The server had an error", type: "server_error" },
    });
    await fakeOpenAIAudio.delay("tts-flaky-fakes", 150);
    const started = Date.now();
    const response = await openai().audio.speech.create({ model: "tts-flaky-fakes", voice: "alloy", input: "Hello" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(parseMp3(new Uint8Array(await response.arrayBuffer()))).toBeDefined();
    await expect(openai().audio.speech.create({ model: "tts-flaky-fakes", voice: "alloy", input: "" })).rejects.toMatchObject({ status: 400 });
    const anonymous = await fetch(`${inject("openaiBaseUrl")}/v1/audio/speech`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tts-flaky-fakes", voice: "alloy", input: "Hi" }),
    });
    expect(anonymous.status).toBe(401);
    expect(await fakeOpenAIAudio.requests("tts-flaky-fakes")).toHaveLength(3);
  });
});
