/**
 * The phone-call fakes themselves: the OpenAI Realtime fake over a real WebSocket opened from
 * workerd the way the CallSession opens it (fetch with `Upgrade: websocket`), in both namings, and
 * the Twilio caller simulator's playback (marks echoed only after their audio played, `clear`).
 * Each test uses its own model name (the fake's scope).
 */
import { describe, expect, inject, it } from "vitest";
import { mulawDecode, rms } from "./fakes/audio";
import { fakeRealtime } from "./harness/fakes";
import { attachCall, callerRecording, capturedMediaFrames, capturedSession, concat, fromBase64, TWILIO_FRAME_BYTES, toBase64 } from "./harness/twilio-caller";

type ServerEvent = Record<string, unknown> & { type: string };

/** A Realtime client as the bridge is one: fetch-upgraded socket, events collected as they arrive. */
async function openRealtime(model: string, apiKey = "sk-test-fake") {
  const response = await fetch(`${inject("realtimeUrl")}/v1/realtime?model=${encodeURIComponent(model)}`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${apiKey}` },
  });
  const socket = response.webSocket;
  if (response.status !== 101 || !socket) return { response, socket: undefined, events: [], send: () => {}, next: async () => ({}) as ServerEvent };
  socket.accept();
  const events: ServerEvent[] = [];
  socket.addEventListener("message", (event) => {
    events.push(JSON.parse(event.data as string) as ServerEvent);
  });
  let read = 0;
  /** The next event of `type` after those already taken. */
  const next = async (type: string, timeoutMs = 3000): Promise<ServerEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = events.findIndex((event, i) => i >= read && event.type === type);
      if (index >= 0) {
        read = index + 1;
        return events[index] as ServerEvent;
      }
      if (Date.now() > deadline) throw new Error(`no ${type} within ${timeoutMs} ms; got ${events.map((e) => e.type).join(", ")}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const send = (event: Record<string, unknown>) => socket.send(JSON.stringify(event));
  return { response, socket, events, send, next };
}

function appendInFrames(send: (event: Record<string, unknown>) => void, ulaw: Uint8Array) {
  for (let at = 0; at < ulaw.byteLength; at += TWILIO_FRAME_BYTES)
    send({ type: "input_audio_buffer.append", audio: toBase64(ulaw.subarray(at, at + TWILIO_FRAME_BYTES)) });
}

function decodedAudio(events: ServerEvent[], type: string): Uint8Array {
  return concat(events.filter((event) => event.type === type).map((event) => fromBase64(String(event.delta)) ?? new Uint8Array(0)));
}

describe("OpenAI Realtime fake", () => {
  it("speaks the GA names: caller turn, spoken u-law reply with usage, a tool call answered, a truncate", async () => {
    const model = "call-fakes-ga";
    await fakeRealtime.script(model, {
      naming: "ga",
      turns: [
        { after_audio_ms: 1000, caller_text: "I would like to book an appointment tomorrow at ten.", reply: "Let me check that for you." },
        { after_audio_ms: 500, function_call: { name: "check_availability", arguments: { date: "2026-12-04" }, call_id: "call_fake_1" } },
        { after_function_output: true, reply: "Ten is free." },
      ],
    });
    const { send, next, events } = await openRealtime(model);
    const created = await next("session.created");
    expect((created.session as { type: string }).type).toBe("realtime");
    send({
      type: "session.update",
      session: {
        type: "realtime",
        instructions: "You are the receptionist.",
        audio: {
          input: { format: { type: "audio/pcmu" }, transcription: { model: "whisper-1" } },
          output: { format: { type: "audio/pcmu" }, voice: "shimmer" },
        },
      },
    });
    const updated = await next("session.updated");
    expect(updated.session).toMatchObject({
      audio: { input: { format: { type: "audio/pcmu" } }, output: { format: { type: "audio/pcmu" }, voice: "shimmer" } },
    });

    const { ulaw } = await callerRecording("book an appointment");
    appendInFrames(send, ulaw.subarray(0, 8 * 1000));
    await next("input_audio_buffer.speech_started");
    await next("input_audio_buffer.speech_stopped");
    expect((await next("conversation.item.input_audio_transcription.completed")).transcript).toBe("I would like to book an appointment tomorrow at ten.");
    const transcript = await next("response.output_audio_transcript.done");
    expect(transcript.transcript).toBe("Let me check that for you.");
    const done = await next("response.done");
    const reply = decodedAudio(events, "response.output_audio.delta");
    // Real 8 kHz u-law speech: about 1.5 s of it, loud enough to hear.
    expect(reply.byteLength).toBeGreaterThan(8 * 1000);
    expect(rms(mulawDecode(reply))).toBeGreaterThan(0.01);
    const usage = (done.response as { usage: Record<string, Record<string, number> & number> }).usage;
    expect(usage).toMatchObject({
      input_token_details: { audio_tokens: 10, text_tokens: expect.any(Number), cached_tokens: 0 },
      output_token_details: { audio_tokens: Math.round(reply.byteLength / 8 / 50), text_tokens: expect.any(Number) },
    });
    expect(usage.total_tokens).toBe(Number(usage.input_tokens) + Number(usage.output_tokens));

    appendInFrames(send, ulaw.subarray(8 * 1000, 8 * 1500));
    const call = await next("response.function_call_arguments.done");
    expect(call).toMatchObject({ call_id: "call_fake_1", name: "check_availability", arguments: JSON.stringify({ date: "2026-12-04" }) });
    await next("response.done");
    send({ type: "conversation.item.create", item: { type: "function_call_output", call_id: "call_fake_1", output: '{"free":["10:00"]}' } });
    send({ type: "response.create" });
    const itemId = String(((await next("response.output_item.added")).item as { id: string }).id);
    expect((await next("response.output_audio_transcript.done")).transcript).toBe("Ten is free.");
    await next("response.done");
    send({ type: "conversation.item.truncate", item_id: itemId, content_index: 0, audio_end_ms: 200 });
    expect(await next("conversation.item.truncated")).toMatchObject({ item_id: itemId, audio_end_ms: 200 });

    const [session] = await fakeRealtime.sessions(model);
    expect(session?.audio_bytes_received).toBe(8 * 1500);
    expect(session?.first_append_audio).toBe(toBase64(ulaw.subarray(0, TWILIO_FRAME_BYTES)));
    expect(session?.function_outputs).toEqual([{ call_id: "call_fake_1", output: '{"free":["10:00"]}' }]);
    const received = await fakeRealtime.events(model);
    expect(received.filter((event) => event.type === "input_audio_buffer.append").length).toBe(1500 / 20);
    expect(session?.truncates).toEqual([expect.objectContaining({ item_id: itemId, audio_end_ms: 200, accepted: true })]);
  });

  it("speaks the beta names in the audio format the session asked for", async () => {
    const model = "call-fakes-beta";
    await fakeRealtime.script(model, { naming: "beta", turns: [{ after_audio_ms: 200, caller_text: "Hello?", reply: "Hello, this is the fake." }] });
    const { send, next, events } = await openRealtime(model);
    expect((await next("session.created")).session).toMatchObject({ input_audio_format: "pcm16" });
    send({
      type: "session.update",
      session: { input_audio_format: "g711_ulaw", output_audio_format: "g711_ulaw", input_audio_transcription: { model: "whisper-1" } },
    });
    await next("session.updated");
    appendInFrames(send, new Uint8Array(8 * 200).fill(0xff));
    expect((await next("conversation.item.input_audio_transcription.completed")).transcript).toBe("Hello?");
    expect((await next("response.audio_transcript.done")).transcript).toBe("Hello, this is the fake.");
    await next("response.done");
    expect(decodedAudio(events, "response.audio.delta").byteLength).toBeGreaterThan(8 * 500);
    expect(events.some((event) => event.type.startsWith("response.output_audio"))).toBe(false);
  });

  it("refuses a connection without the API key before upgrading", async () => {
    const { response, socket } = await openRealtime("call-fakes-auth", "sk-wrong");
    expect(socket).toBeUndefined();
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_api_key" } });
  });
});

describe("Twilio caller simulator", () => {
  it("starts like the captured session and echoes marks only after their audio played; clear echoes at once", async () => {
    const pair = new WebSocketPair();
    const [callerEnd, bridgeEnd] = [pair[0], pair[1]];
    bridgeEnd.accept();
    const fromCaller: Record<string, unknown>[] = [];
    bridgeEnd.addEventListener("message", (event) => {
      fromCaller.push(JSON.parse(event.data as string) as Record<string, unknown>);
    });
    callerEnd.accept();
    const call = attachCall(callerEnd, { callSid: "CAcallfakes", customParameters: { greeting: "hi" } });
    await call.say(new Uint8Array(400).fill(0x7f));
    await call.waitFor(() => fromCaller.length === 5, "connected, start and three frames");

    const captured = await capturedSession();
    const [capturedFrame] = await capturedMediaFrames();
    expect(capturedFrame?.byteLength).toBe(TWILIO_FRAME_BYTES);
    const capturedStart = captured.find((line) => line.message.event === "start")?.message as Record<string, Record<string, unknown>>;
    const [connected, start, ...media] = fromCaller as [
      Record<string, unknown>,
      Record<string, Record<string, unknown>>,
      ...Record<string, Record<string, string>>[],
    ];
    expect(connected).toEqual(captured[0]?.message);
    expect(Object.keys(start).sort()).toEqual(Object.keys(capturedStart).sort());
    expect(Object.keys(start.start ?? {}).sort()).toEqual(Object.keys(capturedStart.start ?? {}).sort());
    expect(start.start).toMatchObject({ callSid: "CAcallfakes", customParameters: { greeting: "hi" }, mediaFormat: capturedStart.start?.mediaFormat });
    expect(media.map((frame) => [frame.sequenceNumber, frame.media?.chunk, frame.media?.timestamp])).toEqual([
      ["2", "1", "0"],
      ["3", "2", "20"],
      ["4", "3", "40"],
    ]);
    expect(media.every((frame) => atob(frame.media?.payload ?? "").length === TWILIO_FRAME_BYTES)).toBe(true);

    // The bridge sends 300 ms of audio and a mark, then 1 s more and another mark.
    const streamSid = call.streamSid;
    const sentAt = Date.now();
    bridgeEnd.send(JSON.stringify({ event: "media", streamSid, media: { payload: toBase64(new Uint8Array(8 * 300).fill(0x10)) } }));
    bridgeEnd.send(JSON.stringify({ event: "mark", streamSid, mark: { name: "first" } }));
    bridgeEnd.send(JSON.stringify({ event: "media", streamSid, media: { payload: toBase64(new Uint8Array(8 * 1000).fill(0x20)) } }));
    bridgeEnd.send(JSON.stringify({ event: "mark", streamSid, mark: { name: "second" } }));
    await call.waitFor(() => call.echoedMarks.length === 1, "the first mark");
    expect(call.echoedMarks[0]?.name).toBe("first");
    expect(call.echoedMarks[0]?.at ?? 0).toBeGreaterThanOrEqual(sentAt + 280);
    expect(call.echoedMarks[0]?.playedMs ?? 0).toBeGreaterThanOrEqual(299);

    await new Promise((resolve) => setTimeout(resolve, 200));
    bridgeEnd.send(JSON.stringify({ event: "clear", streamSid }));
    await call.waitFor(() => call.echoedMarks.length === 2, "the second mark, echoed by the clear");
    // The clear came about 500 ms in: what played stays heard, the rest is dropped, and the second
    // mark comes back before its audio could have played.
    const heard = call.playedMs();
    expect(heard).toBeGreaterThanOrEqual(480);
    expect(heard + (call.clears[0]?.droppedMs ?? 0)).toBe(1300);
    expect(call.echoedMarks[1]?.playedMs ?? 1300).toBeLessThan(1300);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(call.playedMs()).toBe(heard);
    expect(call.receivedAudio().byteLength).toBe(8 * 1300);
    expect(call.protocolErrors).toEqual([]);
    const echoes = fromCaller.filter((message) => message.event === "mark").map((message) => (message.mark as { name: string }).name);
    expect(echoes).toEqual(["first", "second"]);
    call.hangUp();
  });
});
