import { describe, expect, it } from "vitest";
import { CallBridge, type CallEnd, type Turn } from "../src/modules/calls/bridge/bridge";
import { type SessionAssistant, sessionUpdate } from "../src/modules/calls/bridge/session-config";
import { testEnv } from "./harness/helpers";
import { capturedSession } from "./harness/twilio-caller";

function callSession(callSid: string) {
  return testEnv.CALL_SESSION.get(testEnv.CALL_SESSION.idFromName(callSid));
}

const IDENTITY = { "X-Billx-Call-Id": "call_test", "X-Billx-Org-Id": "org_test", "X-Billx-Assistant-Id": "asst_test" };

describe("CallSession connect", () => {
  it("accepts the media stream WebSocket the stream route forwards", async () => {
    const response = await callSession("CA-connect-1").fetch("https://call-session/connect", { headers: { Upgrade: "websocket", ...IDENTITY } });
    expect(response.status).toBe(101);
    const socket = response.webSocket;
    expect(socket).toBeTruthy();
    socket?.accept();
    socket?.close(1000, "done");
  });

  it("refuses a plain request and one without the call's identity", async () => {
    const plain = await callSession("CA-connect-2").fetch("https://call-session/connect", { headers: IDENTITY });
    expect(plain.status).toBe(426);
    const anonymous = await callSession("CA-connect-2").fetch("https://call-session/connect", { headers: { Upgrade: "websocket" } });
    expect(anonymous.status).toBe(400);
  });
});

// ---------------------------------------------------------------- the bridge's rules, socket by socket

type Sent = { to: "twilio" | "realtime"; frame: Record<string, unknown> };

/** A bridge whose ports record what it sends; `finishes` counts the call's endings. */
function bridgeUnderTest(options: { toolDelayMs?: number } = {}) {
  const sent: Sent[] = [];
  const finishes: CallEnd[] = [];
  const turns: Turn[] = [];
  let opened = 0;
  const bridge = new CallBridge({
    toTwilio: (frame) => sent.push({ to: "twilio", frame: JSON.parse(frame) }),
    toRealtime: (frame) => sent.push({ to: "realtime", frame: JSON.parse(frame) }),
    openRealtime: () => {
      opened += 1;
    },
    closeRealtime: () => {},
    sessionUpdate: (history) => JSON.stringify({ type: "session.update", session: { instructions: history.map((t) => t.text).join("|") } }),
    recordTurn: (turn) => turns.push(turn),
    runTool: async (name) => {
      await new Promise((resolve) => setTimeout(resolve, options.toolDelayMs ?? 0));
      return JSON.stringify({ ran: name });
    },
    finish: (end) => finishes.push(end),
    now: () => Date.now(),
  });
  const toModel = (type: string) => sent.filter((s) => s.to === "realtime" && s.frame.type === type).map((s) => s.frame);
  const toTwilio = (event: string) => sent.filter((s) => s.to === "twilio" && s.frame.event === event).map((s) => s.frame);
  return { bridge, sent, finishes, turns, toModel, toTwilio, opened: () => opened };
}

const start = (streamSid = "MZ1") => JSON.stringify({ event: "start", start: { streamSid, callSid: "CA1", customParameters: {} }, streamSid });
const media = (payload: string) => JSON.stringify({ event: "media", media: { track: "inbound", payload } });
const mark = (name: string) => JSON.stringify({ event: "mark", mark: { name } });
const model = (event: Record<string, unknown>) => JSON.stringify(event);
const ulawChunk = (ms: number, fill = 0x7f) => btoa(String.fromCharCode(...new Uint8Array(ms * 8).fill(fill)));

describe("CallBridge", () => {
  it("keeps the caller's frames from before the session is ready and sends them first, in order, byte for byte", async () => {
    const session = await capturedSession();
    // The captured call's first frame, then two more (20 ms of u-law silence each).
    const first = session.find((m) => m.direction === "from_twilio" && m.message.event === "media")?.message.media as { payload: string };
    const payloads = [first.payload, ulawChunk(20, 0xff), ulawChunk(20, 0xfe)];
    const { bridge, toModel, opened } = bridgeUnderTest();
    bridge.twilioMessage(start());
    expect(opened()).toBe(1);
    bridge.twilioMessage(media(payloads[0] as string));
    bridge.realtimeOpened();
    expect(toModel("session.update")).toHaveLength(1);
    bridge.twilioMessage(media(payloads[1] as string));
    expect(toModel("input_audio_buffer.append")).toHaveLength(0);

    bridge.realtimeMessage(model({ type: "session.updated", session: {} }));
    bridge.twilioMessage(media(payloads[2] as string));
    const appended = toModel("input_audio_buffer.append").map((e) => e.audio as string);
    expect(appended).toEqual(payloads);
    expect(Uint8Array.from(atob(appended[0] as string), (c) => c.charCodeAt(0))).toEqual(Uint8Array.from(atob(first.payload), (c) => c.charCodeAt(0)));
    // The greeting is asked for once the session is configured.
    expect(toModel("response.create")).toHaveLength(1);
  });

  it("plays model audio with a mark after each chunk, and truncates at the audio Twilio confirmed played on barge-in", () => {
    const { bridge, toTwilio, toModel, sent } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    for (let i = 0; i < 5; i++) bridge.realtimeMessage(model({ type: "response.output_audio.delta", item_id: "item_A", delta: ulawChunk(20) }));
    const twilioFrames = sent.filter((s) => s.to === "twilio").map((s) => s.frame.event);
    expect(twilioFrames).toEqual(["media", "mark", "media", "mark", "media", "mark", "media", "mark", "media", "mark"]);
    const marks = toTwilio("mark").map((m) => (m.mark as { name: string }).name);

    // Twilio has played two of the five chunks (40 ms) when the caller talks over the assistant.
    bridge.twilioMessage(mark(marks[0] as string));
    bridge.twilioMessage(mark(marks[1] as string));
    bridge.realtimeMessage(model({ type: "input_audio_buffer.speech_started", audio_start_ms: 900 }));
    expect(toTwilio("clear")).toEqual([{ event: "clear", streamSid: "MZ1" }]);
    expect(toModel("response.cancel")).toHaveLength(1);
    expect(toModel("conversation.item.truncate")).toEqual([{ type: "conversation.item.truncate", item_id: "item_A", content_index: 0, audio_end_ms: 40 }]);

    // Twilio echoes the marks the clear dropped at once: they were not heard, and nothing is truncated again.
    for (const name of marks.slice(2)) bridge.twilioMessage(mark(name));
    bridge.realtimeMessage(model({ type: "input_audio_buffer.speech_started" }));
    expect(toModel("conversation.item.truncate")).toHaveLength(1);
  });

  it("speaks the beta event names too", () => {
    const { bridge, toTwilio, turns } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    bridge.realtimeMessage(model({ type: "response.audio.delta", item_id: "item_B", delta: ulawChunk(20) }));
    bridge.realtimeMessage(model({ type: "response.audio_transcript.done", item_id: "item_B", transcript: "Hello there." }));
    expect(toTwilio("media")).toHaveLength(1);
    expect(turns.map((t) => [t.role, t.text])).toEqual([["assistant", "Hello there."]]);
  });

  it("answers a tool call without holding back audio while the tool runs", async () => {
    const { bridge, toModel, toTwilio } = bridgeUnderTest({ toolDelayMs: 50 });
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    bridge.realtimeMessage(model({ type: "response.done", response: { id: "r1", status: "completed", usage: null } }));
    bridge.realtimeMessage(model({ type: "response.function_call_arguments.done", call_id: "fc_1", name: "check_availability", arguments: "{}" }));
    bridge.twilioMessage(media("BBBB"));
    bridge.realtimeMessage(model({ type: "response.output_audio.delta", item_id: "item_C", delta: ulawChunk(20) }));
    expect(toModel("input_audio_buffer.append").map((e) => e.audio)).toEqual(["BBBB"]);
    expect(toTwilio("media")).toHaveLength(1);
    expect(toModel("conversation.item.create")).toHaveLength(0);
    await Promise.all(bridge.toolsRunning);
    expect(toModel("conversation.item.create")).toEqual([
      { type: "conversation.item.create", item: { type: "function_call_output", call_id: "fc_1", output: JSON.stringify({ ran: "check_availability" }) } },
    ]);
    expect(toModel("response.create")).toHaveLength(2);
  });

  it("ends the call once when Twilio stops and both sockets close at once", () => {
    const { bridge, finishes } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    bridge.realtimeMessage(
      model({
        type: "response.done",
        response: { id: "r1", status: "completed", usage: { input_tokens: 10, output_tokens: 20, input_token_details: {}, output_token_details: {} } },
      }),
    );
    bridge.twilioMessage(JSON.stringify({ event: "stop", stop: {} }));
    bridge.twilioClosed();
    bridge.realtimeClosed();
    expect(finishes).toHaveLength(1);
    expect(finishes[0]).toMatchObject({ status: "completed", endReason: "caller_hung_up", usage: { inputTokens: 10, outputTokens: 20 } });
  });

  it("reconnects to the model once with the conversation so far, then gives up", () => {
    const { bridge, finishes, opened, toModel } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    bridge.realtimeMessage(model({ type: "conversation.item.input_audio_transcription.completed", item_id: "u1", transcript: "I need a haircut" }));
    bridge.realtimeClosed();
    expect(opened()).toBe(2);
    expect(finishes).toHaveLength(0);
    bridge.twilioMessage(media("CCCC"));
    bridge.realtimeOpened();
    expect(toModel("session.update").at(-1)).toEqual({ type: "session.update", session: { instructions: "I need a haircut" } });
    bridge.realtimeMessage(model({ type: "session.updated" }));
    // The caller's audio during the reconnect is kept; no second greeting.
    expect(toModel("input_audio_buffer.append").map((e) => e.audio)).toEqual(["CCCC"]);
    expect(toModel("response.create")).toHaveLength(1);
    bridge.realtimeClosed();
    expect(finishes).toEqual([expect.objectContaining({ status: "failed", endReason: "realtime_unavailable" })]);
  });

  it("hangs up after the goodbye has played when the model ends the call", async () => {
    const { bridge, finishes, toTwilio } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    bridge.realtimeMessage(model({ type: "response.output_audio.delta", item_id: "item_G", delta: ulawChunk(20) }));
    bridge.realtimeMessage(model({ type: "response.function_call_arguments.done", call_id: "fc_2", name: "end_call", arguments: "{}" }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(finishes).toHaveLength(0);
    const goodbyeMark = toTwilio("mark")[0]?.mark as { name: string };
    bridge.twilioMessage(mark(goodbyeMark.name));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(finishes).toEqual([expect.objectContaining({ endReason: "assistant_ended" })]);
  });
});

describe("Realtime session of a call", () => {
  const assistant: SessionAssistant = {
    name: "Ava",
    business_name: "Bright Smile Dental",
    business_description: null,
    timezone: "America/Chicago",
    weekly_hours: { mon: [["09:00", "17:00"]] },
    language: "en-US",
    greeting: "Thanks for calling Bright Smile.",
    instructions: "Offer the earliest slot first.",
    voice: "shimmer",
    tools: ["check_availability", "book_appointment", "ask_database", "end_call"],
    database_id: null,
  };

  it("is u-law in and out with server VAD, the assistant's voice, and its tools as function tools", () => {
    const update = sessionUpdate(assistant) as { session: { instructions: string; tools: { name: string; type: string }[] } };
    expect(update).toMatchObject({
      type: "session.update",
      session: {
        type: "realtime",
        audio: {
          input: { format: { type: "audio/pcmu" }, turn_detection: { type: "server_vad" } },
          output: { format: { type: "audio/pcmu" }, voice: "shimmer" },
        },
      },
    });
    const instructions = update.session.instructions;
    expect(instructions).toContain("Ava");
    expect(instructions).toContain("Bright Smile Dental");
    expect(instructions).toContain("Thanks for calling Bright Smile.");
    expect(instructions).toContain("mon 09:00-17:00");
    expect(instructions).toContain("Offer the earliest slot first.");
    // ask_database needs a linked database.
    expect(update.session.tools.map((t) => [t.type, t.name])).toEqual([
      ["function", "check_availability"],
      ["function", "book_appointment"],
      ["function", "end_call"],
    ]);
  });
});
