import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, asc, eq } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { agentEvents, calls, callTurns, creditLedger, creditReservations } from "../src/db/schema";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import { CallBridge, type CallEnd, type Turn } from "../src/modules/calls/bridge/bridge";
import { type SessionAssistant, sessionUpdate } from "../src/modules/calls/bridge/session-config";
import { openCall } from "../src/modules/calls/records/service";
import { mulawDecode, rms } from "./fakes/audio";
import type { RealtimeConnectionRecord, RealtimeScript } from "./fakes/realtime";
import { call, expectJson, type SignedUp, signUp } from "./harness/api";
import { fakeRealtime, fakeTwilio } from "./harness/fakes";
import { setCreditBalance, testCtx, testEnv } from "./harness/helpers";
import {
  attachCall,
  callerRecording,
  capturedMediaFrames,
  capturedSession,
  concat,
  connectCall,
  fromBase64,
  TWILIO_FRAME_BYTES,
  type TwilioCall,
  toBase64,
} from "./harness/twilio-caller";

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
function bridgeUnderTest(options: { toolDelayMs?: number; transferNumber?: string } = {}) {
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
    transferNumber: () => options.transferNumber ?? null,
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

  it("truncates a reply queued behind the one being heard at zero: the caller heard none of it", () => {
    const { bridge, toTwilio, toModel } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    // "Let me check" and, after a tool call, the answer arrive while the first is still playing.
    for (let i = 0; i < 3; i++) bridge.realtimeMessage(model({ type: "response.output_audio.delta", item_id: "item_A", delta: ulawChunk(20) }));
    for (let i = 0; i < 2; i++) bridge.realtimeMessage(model({ type: "response.output_audio.delta", item_id: "item_B", delta: ulawChunk(20) }));
    const marks = toTwilio("mark").map((m) => (m.mark as { name: string }).name);
    bridge.twilioMessage(mark(marks[0] as string));
    bridge.realtimeMessage(model({ type: "input_audio_buffer.speech_started" }));
    expect(toModel("conversation.item.truncate")).toEqual([
      { type: "conversation.item.truncate", item_id: "item_A", content_index: 0, audio_end_ms: 20 },
      { type: "conversation.item.truncate", item_id: "item_B", content_index: 0, audio_end_ms: 0 },
    ]);
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
  it("ends at the time limit only after the goodbye, not when the answer it cut off reports cancelled", async () => {
    const { bridge, finishes, toModel } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    // The greeting is being spoken when the time runs out.
    bridge.maxDurationReached();
    expect(toModel("response.cancel")).toHaveLength(1);
    bridge.realtimeMessage(model({ type: "response.done", response: { id: "r1", status: "cancelled", usage: null } }));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(finishes).toHaveLength(0);
    bridge.realtimeMessage(model({ type: "response.done", response: { id: "r2", status: "completed", usage: null } }));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(finishes).toEqual([expect.objectContaining({ endReason: "max_duration" })]);
  });

  it("answers transfer_call once the asking response is done: with no number, that it is not possible, and the call goes on", () => {
    const { bridge, finishes, toModel } = bridgeUnderTest();
    bridge.twilioMessage(start());
    bridge.realtimeOpened();
    bridge.realtimeMessage(model({ type: "session.updated" }));
    bridge.realtimeMessage(model({ type: "response.done", response: { id: "r1", status: "completed", usage: null } }));
    bridge.realtimeMessage(model({ type: "response.function_call_arguments.done", call_id: "fc_t", name: "transfer_call", arguments: "{}" }));
    // The model's response that asked is still going: a response.create now would be refused.
    expect(toModel("conversation.item.create")).toHaveLength(0);
    bridge.realtimeMessage(model({ type: "response.done", response: { id: "r2", status: "completed", usage: null } }));
    const [output] = toModel("conversation.item.create") as { item: { call_id: string; output: string } }[];
    expect(output?.item.call_id).toBe("fc_t");
    expect(JSON.parse(output?.item.output ?? "{}")).toMatchObject({ transferring: false, error: expect.stringContaining("not possible") });
    bridge.realtimeMessage(model({ type: "response.done", response: { id: "r3", status: "completed", usage: null } }));
    expect(finishes).toHaveLength(0);
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

// ---------------------------------------------------------------- whole calls: Twilio caller -> CallSession -> Realtime fake

/** The number every test caller rings from, as its call row has it. */
const CALLER = "+15125550100";

interface LiveCallSetup {
  owner: SignedUp;
  assistant: Assistant;
  scope: string;
  callId: string;
  caller: TwilioCall;
}

/** An organisation with credits, an assistant open every day, a call row with its hold, and a caller on the CallSession. */
/** The usage entries that settled a call's hold, once the first is there and a second has had time to follow. */
async function settledOnce(reservationId: string) {
  const settlements = () =>
    testCtx()
      .db.select()
      .from(creditLedger)
      .where(and(eq(creditLedger.referenceType, "reservation"), eq(creditLedger.referenceId, reservationId), eq(creditLedger.kind, "usage")));
  await waitForRow(settlements, (rows) => rows.length > 0, "the hold settled");
  await new Promise((resolve) => setTimeout(resolve, 300));
  return settlements();
}

async function liveCall(
  label: string,
  script: Omit<RealtimeScript, "scope" | "match_instructions">,
  callSid = newCallSid(),
  assistantFields: Record<string, unknown> = {},
): Promise<LiveCallSetup> {
  const owner = await signUp(label);
  await setCreditBalance(owner.orgId, 100_000);
  const scope = `Ava-${label}-${crypto.randomUUID().slice(0, 8)}`;
  const everyDay = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => [day, [["00:00", "23:30"]]]));
  const body = { name: scope, business_name: "Bright Smile Dental", timezone: "UTC", weekly_hours: everyDay, min_notice_minutes: 0, ...assistantFields };
  const assistant = await expectJson<Assistant>(await call("/v1/assistants", { token: owner.access_token, orgId: owner.orgId, body }), 201);
  await fakeRealtime.script(scope, { ...script, match_instructions: scope });
  const opened = await openCall(testCtx(), {
    orgId: owner.orgId,
    assistantId: assistant.id,
    callSid,
    from: CALLER,
    to: "+15125550199",
    direction: "inbound",
    status: "ringing",
  });
  if (!opened.ok) throw new Error("the call could not be opened");
  const headers = { "X-Billx-Call-Id": opened.call.id, "X-Billx-Org-Id": owner.orgId, "X-Billx-Assistant-Id": assistant.id };
  const caller = await connectCall("https://call-session/connect", { via: callSession(callSid), headers, callSid });
  return { owner, assistant, scope, callId: opened.call.id, caller };
}

/** The TwiML of each change Twilio was asked to make to the live call, in order. */
async function twilioUpdates(callSid: string) {
  const posts = (await fakeTwilio.requests(callSid)).filter((r) => r.method === "POST");
  return posts.map((r) => ({ at: Date.parse(r.at), twiml: String((r.body as { Twiml?: string }).Twiml) }));
}

function newCallSid(): string {
  return `CA${crypto.randomUUID().replaceAll("-", "")}`;
}

/** CALL_SILENCE_TIMEOUT_S as the tests' Worker has it (its default when unset). */
function testCallSilenceSeconds(): number {
  return Number(testEnv.CALL_SILENCE_TIMEOUT_S ?? 20);
}

async function callRow(callId: string) {
  const [row] = await testCtx().db.select().from(calls).where(eq(calls.id, callId));
  return row;
}

/** The call's row once it has ended. */
function callEnded(callId: string) {
  return waitForRow(
    () => callRow(callId),
    (row) => row?.endedAt != null,
    "the call's end",
  );
}

async function waitForRow<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a phone call through the CallSession", () => {
  it("delivers the caller's first frame to the model byte for byte", async () => {
    const session = await capturedSession();
    const first = session.find((m) => m.direction === "from_twilio" && m.message.event === "media")?.message.media as { payload: string };
    const { scope, caller } = await liveCall("first-frame", { turns: [] });
    // Sent at once after `start`: the model's session is not configured yet.
    caller.sendFrame(Uint8Array.from(atob(first.payload), (c) => c.charCodeAt(0)));
    const [connection] = await fakeRealtime.waitFor(scope, (s) => s[0]?.first_append_audio != null, "the first append");
    expect(connection?.first_append_audio).toBe(first.payload);
    expect(connection?.session).toMatchObject({ audio: { input: { format: { type: "audio/pcmu" } }, output: { format: { type: "audio/pcmu" } } } });
    caller.hangUp();
  });

  it("truncates the interrupted answer at the audio Twilio confirmed played", async () => {
    const { scope, caller } = await liveCall("barge-in", {
      // OpenAI sends a response's audio far faster than it plays: what was sent is no measure of what was heard.
      turns: [{ after_response_create: true, reply: "Thanks for calling, how can I help you today?", reply_audio_ms: 4000 }],
    });
    await caller.waitFor(() => caller.echoedMarks.length >= 20, "400 ms of the greeting played");
    const bargedInAt = Date.now();
    await fetch(`${inject("realtimeUrl")}/_fake/realtime/speech-started`, { method: "POST", body: JSON.stringify({ scope }) });
    const [connection] = await fakeRealtime.waitFor(scope, (s) => (s[0]?.truncates.length ?? 0) > 0, "a truncate");
    await caller.waitFor(() => caller.clears.length > 0, "the clear");
    const truncate = connection?.truncates[0];
    const heard = caller.clears[0]?.playedMs ?? 0;
    // Confirmed playback trails what was heard by at most a chunk (20 ms) plus the echo in flight; never ahead of it.
    expect(truncate?.audio_end_ms).toBeLessThanOrEqual(Math.ceil(heard));
    // It is the audio of the marks Twilio echoed (20 ms a chunk) by the time the bridge heard the caller: at least those
    // echoed before the barge-in began (less those still in flight to the bridge), at most
    // those echoed before the clear arrived. The echoes the clear itself caused count for nothing. A bracket, not a
    // point, so a busy machine cannot fail it.
    const confirmedBy = (at: number) => caller.echoedMarks.filter((m) => m.at < at).length * 20;
    // How far it trails is the bench's figure (truncate error); here only a loose floor, as a loaded machine delays the echoes.
    const echoesInFlightMs = 300;
    expect(truncate?.audio_end_ms).toBeGreaterThanOrEqual(confirmedBy(bargedInAt) - echoesInFlightMs);
    expect(truncate?.audio_end_ms).toBeLessThanOrEqual(confirmedBy(caller.clears[0]?.at ?? 0));
    // Far less than what had been sent: the model's audio runs ahead of playback.
    expect(truncate?.item_audio_ms).toBeGreaterThan((truncate?.audio_end_ms ?? 0) + 500);
    expect(truncate?.accepted).toBe(true);
    caller.hangUp();
  });

  it("books an appointment by tool call, writes the transcript and finalises once when both sockets close at once", async () => {
    const tomorrow = new Date(Date.now() + 24 * 3600_000);
    tomorrow.setUTCHours(10, 0, 0, 0);
    const start = tomorrow.toISOString();
    const { owner, assistant, scope, callId, caller } = await liveCall("booking", {
      turns: [
        { after_response_create: true, reply: "Hello, Bright Smile Dental." },
        {
          after_audio_ms: 200,
          caller_text: "Book me tomorrow at ten, my name is Asha Rao.",
          function_call: { name: "book_appointment", arguments: { start, customer_name: "Asha Rao" } },
        },
        { after_function_output: true, reply: "You are booked for tomorrow at ten." },
      ],
    });
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    await caller.silence(300);
    const [connection] = await fakeRealtime.waitFor(scope, (s) => (s[0]?.function_outputs.length ?? 0) > 0, "the booking's function output", 8000);
    expect(JSON.parse(connection?.function_outputs[0]?.output ?? "{}")).toMatchObject({ booked: true, booking: { start, customer_name: "Asha Rao" } });

    const bookings = await expectJson<{ data: { source: string; source_id: string; start: string }[] }>(
      await call(`/v1/assistants/${assistant.id}/bookings?from=${start.slice(0, 10)}&to=${start.slice(0, 10)}`, {
        token: owner.access_token,
        orgId: owner.orgId,
      }),
      200,
    );
    // Booked under the caller's number: their confirmation goes there, and they may cancel it from that phone.
    expect(bookings.data).toEqual([expect.objectContaining({ source: "call", source_id: callId, start, phone: CALLER })]);

    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses.length === 3 && s[0].responses[2]?.status === "completed", "the confirmation spoken");
    // The caller hangs up as the model's socket drops: one ending.
    await Promise.all([fakeRealtime.drop(scope), Promise.resolve(caller.hangUp())]);
    const ended = await callEnded(callId);
    expect(ended).toMatchObject({ status: "completed", endReason: "caller_hung_up" });
    const settlements = await settledOnce(ended?.reservationId ?? "");
    const [reservation] = await testCtx()
      .db.select()
      .from(creditReservations)
      .where(eq(creditReservations.id, ended?.reservationId ?? ""));
    expect(reservation?.status).toBe("settled");
    // Settled once, charging what the call row says it cost.
    expect(settlements).toHaveLength(1);
    expect(-(settlements[0]?.amount ?? 0)).toBe(ended?.costCredits);
    expect(ended?.costCredits).toBeGreaterThan(0);
    expect((await callRow(callId))?.endedAt?.toISOString()).toBe(ended?.endedAt?.toISOString());
    // The record's length is the length billed: one count of seconds, not two roundings.
    expect(ended?.durationS).toBeGreaterThan(0);
    expect(ended?.usage).toEqual([expect.objectContaining({ audioSeconds: ended?.durationS })]);

    const turns = await testCtx().db.select().from(callTurns).where(eq(callTurns.callId, callId)).orderBy(asc(callTurns.seq));
    expect(turns.map((t) => t.role)).toEqual(["assistant", "caller", "tool", "assistant"]);
    expect(turns[1]?.text).toBe("Book me tomorrow at ten, my name is Asha Rao.");
    expect(turns[3]?.text).toBe("You are booked for tomorrow at ten.");
  });
  it("reconnects to a dropped model once with the conversation so far, then apologises, hangs up and finalises once", async () => {
    const callSid = newCallSid();
    const { scope, callId, caller } = await liveCall("reconnect", { turns: [{ after_response_create: true, reply: "Hello, Bright Smile Dental." }] }, callSid);
    await waitForRow(
      () => testCtx().db.select().from(callTurns).where(eq(callTurns.callId, callId)),
      (rows) => rows.length === 1,
      "the greeting's transcript",
    );
    await fakeRealtime.drop(scope);
    const sessions = await fakeRealtime.waitFor(
      scope,
      (s) => s.length === 2 && s[1]?.session.instructions !== undefined && s[1].events.length > 0,
      "the reconnect",
    );
    const resumed = sessions[1];
    expect(String(resumed?.session.instructions)).toContain("Conversation so far:\nassistant: Hello, Bright Smile Dental.");
    // Caller audio flows to the new session, and the model does not greet again.
    await caller.silence(100);
    await fakeRealtime.waitFor(scope, (s) => (s[1]?.audio_bytes_received ?? 0) >= 800, "caller audio on the new session");
    expect(resumed?.events.filter((e) => e.type === "response.create")).toHaveLength(0);

    await fakeRealtime.drop(scope);
    const ended = await callEnded(callId);
    expect(ended).toMatchObject({ status: "failed", endReason: "realtime_unavailable" });
    await caller.closed;
    expect((await fakeRealtime.sessions(scope)).length).toBe(2);
    // Twilio is told to say the apology on the live call and hang up (it speaks it itself: no model is left to).
    const updates = await twilioUpdates(callSid);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.twiml).toMatch(/<Say>Sorry, we are having technical trouble[^<]*<\/Say><Hangup\/>/);
    const settlements = await settledOnce(ended?.reservationId ?? "");
    expect(settlements).toHaveLength(1);
  });
  it("prompts a silent caller once, then says goodbye and ends the call", async () => {
    const callSid = newCallSid();
    const { scope, callId } = await liveCall(
      "silence",
      { turns: ["Hello, Bright Smile Dental.", "Are you still there?", "Goodbye."].map((reply) => ({ after_response_create: true, reply })) },
      callSid,
    );
    const stub = callSession(callSid);
    const silentFor = async (seconds: number) => {
      await runInDurableObject(stub, (instance) => {
        const live = (instance as unknown as { live: { bridge: { lastActivityAt: number } } }).live;
        live.bridge.lastActivityAt = Date.now() - seconds * 1000;
      });
      await runDurableObjectAlarm(stub);
    };
    const prompts = (s: RealtimeConnectionRecord[]) => (s[0]?.events ?? []).filter((e) => e.type === "conversation.item.create");
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    await silentFor(testCallSilenceSeconds() + 1);
    await fakeRealtime.waitFor(scope, (s) => prompts(s).length === 1 && s[0]?.responses[1]?.status === "completed", "the prompt");
    expect((await callRow(callId))?.endedAt).toBeNull();

    await silentFor(testCallSilenceSeconds() + 1);
    const ended = await callEnded(callId);
    expect(ended?.endReason).toBe("silence");
    const sessions = await fakeRealtime.sessions(scope);
    expect(sessions[0]?.responses.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
  });
  it("passes the caller's keypad digits to the model as text, and the model answers", async () => {
    const { scope, callId, caller } = await liveCall("dtmf", {
      turns: ["Hello, press 1 for opening hours.", "We are open every day."].map((reply) => ({ after_response_create: true, reply })),
    });
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    caller.pressKey("1");
    const [connection] = await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[1]?.status === "completed", "the answer to the key");
    const items = (connection?.events ?? []).filter((e) => e.type === "conversation.item.create");
    expect(JSON.stringify(items[0])).toContain("pressed the key 1");
    const turns = await waitForRow(
      () => testCtx().db.select().from(callTurns).where(eq(callTurns.callId, callId)).orderBy(asc(callTurns.seq)),
      (rows) => rows.length === 3,
      "three turns",
    );
    expect(turns.map((t) => [t.role, t.text])).toEqual([
      ["assistant", "Hello, press 1 for opening hours."],
      ["caller", "[pressed 1]"],
      ["assistant", "We are open every day."],
    ]);
    caller.hangUp();
  });
});

describe("a phone call's tools and faults", () => {
  const bookingsOf = async (setup: LiveCallSetup) =>
    (
      await expectJson<{ data: { id: string; status: string; start: string }[] }>(
        await call(`/v1/assistants/${setup.assistant.id}/bookings`, { token: setup.owner.access_token, orgId: setup.owner.orgId }),
        200,
      )
    ).data;
  const tomorrowAt = (hour: number) => {
    const day = new Date(Date.now() + 24 * 3600_000);
    day.setUTCHours(hour, 0, 0, 0);
    return day.toISOString();
  };

  it("cancels the caller's booking by tool call: the booking row is cancelled and the model is told so", async () => {
    const start = tomorrowAt(11);
    const setup = await liveCall("cancel", {
      turns: [
        { after_response_create: true, reply: "Hello, Bright Smile Dental." },
        {
          after_audio_ms: 200,
          caller_text: "Please cancel my appointment tomorrow at eleven.",
          function_call: { name: "cancel_booking", arguments: { start } },
        },
        { after_function_output: true, reply: "Your appointment tomorrow at eleven is cancelled." },
      ],
    });
    const { owner, assistant, scope, callId, caller } = setup;
    // Booked earlier from the caller's number, through the API as the front desk would.
    const booking = await expectJson<{ id: string }>(
      await call(`/v1/assistants/${assistant.id}/bookings`, {
        token: owner.access_token,
        orgId: owner.orgId,
        body: { start, customer_name: "Asha Rao", phone: CALLER, notify: "none" },
      }),
      201,
    );
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    await caller.silence(300);
    const [connection] = await fakeRealtime.waitFor(scope, (s) => (s[0]?.function_outputs.length ?? 0) > 0, "the cancel's function output", 8000);
    expect(JSON.parse(connection?.function_outputs[0]?.output ?? "{}")).toMatchObject({
      cancelled: true,
      booking: { id: booking.id, start, status: "cancelled" },
    });
    expect(await bookingsOf(setup)).toEqual([expect.objectContaining({ id: booking.id, status: "cancelled" })]);
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[2]?.status === "completed", "the cancellation spoken");
    caller.hangUp();
    const turns = await waitForRow(
      () => testCtx().db.select().from(callTurns).where(eq(callTurns.callId, callId)).orderBy(asc(callTurns.seq)),
      (rows) => rows.length === 4,
      "four turns",
    );
    expect(turns.map((t) => t.role)).toEqual(["assistant", "caller", "tool", "assistant"]);
  });

  it("does not cancel a booking made from another number", async () => {
    const start = tomorrowAt(12);
    const setup = await liveCall("cancel-other", {
      turns: [
        { after_response_create: true, reply: "Hello." },
        { after_audio_ms: 200, caller_text: "Cancel the noon appointment.", function_call: { name: "cancel_booking", arguments: { start } } },
        { after_function_output: true, reply: "I could not find it." },
      ],
    });
    const { owner, assistant, scope, caller } = setup;
    await expectJson(
      await call(`/v1/assistants/${assistant.id}/bookings`, {
        token: owner.access_token,
        orgId: owner.orgId,
        body: { start, customer_name: "Someone Else", phone: "+15125550177", notify: "none" },
      }),
      201,
    );
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    await caller.silence(300);
    const [connection] = await fakeRealtime.waitFor(scope, (s) => (s[0]?.function_outputs.length ?? 0) > 0, "the cancel's function output", 8000);
    expect(JSON.parse(connection?.function_outputs[0]?.output ?? "{}")).toMatchObject({ cancelled: false });
    expect(await bookingsOf(setup)).toEqual([expect.objectContaining({ status: "confirmed" })]);
    caller.hangUp();
  });

  it("transfers the call to the business's number after the line is said: Twilio dials it, the call ends transferred", async () => {
    const callSid = newCallSid();
    const setup = await liveCall(
      "transfer",
      {
        turns: [
          { after_response_create: true, reply: "Hello, Bright Smile Dental." },
          {
            after_audio_ms: 200,
            caller_text: "Can I talk to a person?",
            function_call: { name: "transfer_call", arguments: { reason: "asked for a person" } },
          },
          { after_function_output: true, reply: "Putting you through now." },
        ],
      },
      callSid,
      { business_phone: "+15125550142" },
    );
    const { assistant, scope, callId, caller } = setup;
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    await caller.silence(300);
    const ended = await callEnded(callId);
    expect(ended).toMatchObject({ status: "completed", endReason: "transferred" });
    const [connection] = await fakeRealtime.sessions(scope);
    expect(JSON.parse(connection?.function_outputs[0]?.output ?? "{}")).toMatchObject({ transferring: true });
    // The short line was spoken, and played to the end (all audio not cleared by a barge-in), before the transfer.
    expect(connection?.responses[2]?.status).toBe("completed");
    const droppedMs = caller.clears.reduce((sum, clear) => sum + clear.droppedMs, 0);
    expect(caller.playedMs()).toBeGreaterThanOrEqual(caller.receivedAudio().byteLength / 8 - droppedMs - 20);

    const updates = await twilioUpdates(callSid);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.at).toBeGreaterThanOrEqual(caller.echoedMarks.at(-1)?.at ?? Number.POSITIVE_INFINITY);
    expect(updates[0]?.twiml).toContain("<Response><Dial>+15125550142</Dial></Response>");
    // Recorded on the agent just after the call row ends.
    const outcomes = await waitForRow(
      () =>
        testCtx()
          .db.select()
          .from(agentEvents)
          .where(and(eq(agentEvents.agentId, assistant.agent_id), eq(agentEvents.type, "transferred"))),
      (rows) => rows.length > 0,
      "the transferred outcome",
    );
    expect(outcomes).toEqual([expect.objectContaining({ kind: "outcome", id: `${callId}:transferred`, success: true })]);
    await caller.closed;
  });

  it("says goodbye and ends the call at the maximum call length", async () => {
    const callSid = newCallSid();
    const { scope, callId } = await liveCall(
      "max-duration",
      { turns: ["Hello, Bright Smile Dental.", "Sorry, our time is up. Goodbye."].map((reply) => ({ after_response_create: true, reply })) },
      callSid,
    );
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    // CALL_MAX_SECONDS for this call only: a second, already reached.
    const stub = callSession(callSid);
    await runInDurableObject(stub, (instance) => {
      const live = (instance as unknown as { live: { startedAt: number; ctx: { config: { calls: Record<string, unknown> } } } }).live;
      live.ctx = { ...live.ctx, config: { ...live.ctx.config, calls: { ...live.ctx.config.calls, maxSeconds: 1 } } };
      live.startedAt = Date.now() - 2000;
    });
    await runDurableObjectAlarm(stub);
    const ended = await callEnded(callId);
    expect(ended).toMatchObject({ status: "completed", endReason: "max_duration" });
    const [connection] = await fakeRealtime.sessions(scope);
    expect(JSON.stringify(connection?.events.filter((e) => e.type === "conversation.item.create"))).toContain("time limit");
    expect(connection?.responses.map((r) => r.status)).toEqual(["completed", "completed"]);
    const turns = await testCtx().db.select().from(callTurns).where(eq(callTurns.callId, callId)).orderBy(asc(callTurns.seq));
    expect(turns.at(-1)?.text).toBe("Sorry, our time is up. Goodbye.");
  });

  it("keeps what was said in call_turns as the call goes on, across a restart of the CallSession", async () => {
    const callSid = newCallSid();
    const { scope, callId, caller } = await liveCall(
      "restart",
      {
        turns: [
          { after_response_create: true, reply: "Hello, Bright Smile Dental." },
          { after_audio_ms: 200, caller_text: "What are your opening hours?", reply: "We are open every day." },
        ],
      },
      callSid,
    );
    await fakeRealtime.waitFor(scope, (s) => s[0]?.responses[0]?.status === "completed", "the greeting");
    await caller.silence(300);
    const said = [
      ["assistant", "Hello, Bright Smile Dental."],
      ["caller", "What are your opening hours?"],
      ["assistant", "We are open every day."],
    ];
    const turnsOf = () => testCtx().db.select().from(callTurns).where(eq(callTurns.callId, callId)).orderBy(asc(callTurns.seq));
    // Written as the call goes on: all there while the caller is still on the line.
    const before = await waitForRow(turnsOf, (rows) => rows.length === 3, "three turns before hang-up");
    expect(before.map((t) => [t.role, t.text])).toEqual(said);
    expect((await callRow(callId))?.endedAt).toBeNull();

    // The object loses its memory (eviction, restart); the Twilio socket survives, as a hibernated one does.
    await runInDurableObject(callSession(callSid), (instance) => {
      (instance as unknown as { live: unknown }).live = null;
    });
    caller.hangUp();
    const ended = await callEnded(callId);
    expect(ended?.endReason).toBe("caller_hung_up");
    expect((await turnsOf()).map((t) => [t.role, t.text])).toEqual(said);
  });
});

/**
 * The phone-call fakes themselves (kept in this file: a test file of its own would pay the
 * suite's start-up cost again): the OpenAI Realtime fake over a real WebSocket opened from
 * workerd the way the CallSession opens it (fetch with `Upgrade: websocket`), in both namings, and
 * the Twilio caller simulator's playback (marks echoed only after their audio played, `clear`).
 * Each test uses its own model name (the fake's scope).
 */
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
