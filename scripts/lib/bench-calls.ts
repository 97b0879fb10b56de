/**
 * `calls` section of `npm run bench`: phone calls through the real Worker (wrangler dev, its
 * CallSession Durable Object, Postgres) with the Realtime and Twilio fakes in this process, so the
 * bench, the fake model and the fake caller share one clock.
 *
 * A call is placed the way Twilio places one: a signed `POST /v1/voice/twilio/incoming`, then the
 * stream URL from its TwiML opened as a Media Streams client (tests/harness/twilio-stream.ts), which
 * streams caller frames of 20 ms at real time while the fake model answers in scripted turns.
 * - caller→model: when each frame was sent here vs when the fake received its append;
 * - model→caller: when the fake sent each audio delta vs when the caller received the media frame;
 * - barge-in: the fake's `speech_started` vs the `clear` reaching the caller, and the truncate point
 *   the bridge sent vs the audio of that item the caller had heard when the clear came;
 * - N concurrent calls: CPU of the workerd processes per call-second (utime+stime from /proc), and
 *   frames lost both ways (sent vs received).
 */
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { WebSocket } from "ws";
import { twilioSignature } from "../../src/lib/signatures.ts";
import { startFakeRealtime } from "../../tests/fakes/realtime.ts";
import { DEFAULT_FAKE_TWILIO_ACCOUNT, startFakeTwilio } from "../../tests/fakes/twilio.ts";
import { attachCall, fromBase64, TWILIO_FRAME_BYTES, type TwilioCall } from "../../tests/harness/twilio-stream.ts";

const FRAME_MS = 20;
const ULAW_SILENCE = 0xff;
/** Each scripted turn: the model answers after this much caller audio, for REPLY_MS. */
const TURN_EVERY_MS = 2500;
const REPLY_MS = 2000;
const CREDITS = 10_000_000;
/** Linux clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on every common kernel). */
const CLOCK_TICKS = 100;

export interface CallFakes {
  realtimeUrl: string;
  twilioUrl: string;
  /** What wrangler dev needs to reach them, and the public base URL Twilio would call. */
  vars: Record<string, string>;
  close(): Promise<void>;
}

/** The Realtime and Twilio fakes for the Worker the bench starts on `baseUrl`. */
export async function startCallFakes(baseUrl: string): Promise<CallFakes> {
  const realtime = await startFakeRealtime(null);
  const twilio = await startFakeTwilio(DEFAULT_FAKE_TWILIO_ACCOUNT);
  return {
    realtimeUrl: realtime.url,
    twilioUrl: twilio.url,
    vars: {
      OPENAI_REALTIME_URL: `${realtime.url.replace(/^http/, "ws")}/v1/realtime`,
      TWILIO_ACCOUNT_SID: DEFAULT_FAKE_TWILIO_ACCOUNT.sid,
      TWILIO_AUTH_TOKEN: DEFAULT_FAKE_TWILIO_ACCOUNT.authToken,
      TWILIO_FROM_NUMBER: DEFAULT_FAKE_TWILIO_ACCOUNT.numbers[0] ?? "+15005550006",
      TWILIO_BASE_URL: twilio.url,
      PUBLIC_BASE_URL: baseUrl,
    },
    async close() {
      await realtime.close();
      await twilio.close();
    },
  };
}

export interface CallsOptions {
  baseUrl: string;
  databaseUrl: string;
  fakes: CallFakes;
  accessToken: string;
  /** A second user, made platform staff to grant the run's credits. */
  staff: { email: string; accessToken: string };
  /** Length of each call's caller audio. */
  callSeconds: number;
  concurrentCalls: number;
  /** The wrangler dev process: its workerd descendants are the ones measured. */
  wranglerPid: number;
}

export interface CallsFigures {
  callSeconds: number;
  callerToModelMs: number[];
  modelToCallerMs: number[];
  clearDelayMs: number;
  truncateErrorMs: number;
  concurrentCalls: number;
  cpuMsPerCallSecond: number;
  framesSent: { callerToModel: number; modelToCaller: number };
  framesLost: { callerToModel: number; modelToCaller: number };
}

export async function measureCalls(options: CallsOptions): Promise<CallsFigures> {
  const orgId = await orgOf(options);
  await grantCredits(options, orgId, CREDITS);

  // One call alone: latencies, then a barge-in near its end.
  const [alone] = await receptionists(options, orgId, 1);
  if (!alone) throw new Error("bench calls: no receptionist");
  const single = await runCall(options, alone, { bargeInAtMs: Math.max(TURN_EVERY_MS, options.callSeconds * 1000 - 3000) });
  const latency = await pairLatencies(options, alone, single);
  if (!single.bargeIn) throw new Error("bench calls: the barge-in never happened (no model audio playing)");

  // Then N at once, on their own assistants (a scope each in the fake).
  const many = await receptionists(options, orgId, options.concurrentCalls);
  const cpuBefore = workerdCpuMs(options.wranglerPid);
  const runs = await Promise.all(many.map((receptionist) => runCall(options, receptionist, {})));
  const cpuMs = workerdCpuMs(options.wranglerPid) - cpuBefore;
  const counted = await Promise.all(many.map((receptionist, i) => pairLatencies(options, receptionist, runs[i] as CallRun)));
  const total = (pick: (c: PairedCall) => number) => counted.reduce((sum, c) => sum + pick(c), 0);
  const callSecondsTotal = runs.reduce((sum, run) => sum + run.durationMs / 1000, 0);

  return {
    callSeconds: options.callSeconds,
    callerToModelMs: latency.callerToModelMs,
    modelToCallerMs: latency.modelToCallerMs,
    clearDelayMs: single.bargeIn.clearDelayMs,
    truncateErrorMs: latency.truncateErrorMs ?? Number.NaN,
    concurrentCalls: options.concurrentCalls,
    cpuMsPerCallSecond: cpuMs / callSecondsTotal,
    framesSent: { callerToModel: total((c) => c.callerFramesSent), modelToCaller: total((c) => c.modelFramesSent) },
    framesLost: {
      callerToModel: total((c) => c.callerFramesSent - c.callerFramesArrived),
      modelToCaller: total((c) => c.modelFramesSent - c.modelFramesArrived),
    },
  };
}

// ---------------------------------------------------------------- one call

interface Receptionist {
  /** The assistant's name: the fake model's scope, claimed by the session instructions that contain it. */
  scope: string;
  number: string;
}

interface CallRun {
  call: TwilioCall;
  /** When each caller frame was sent (epoch ms). */
  framesSentAt: number[];
  durationMs: number;
  bargeIn?: { clearDelayMs: number; playedMsAtClear: number };
}

/** Places a signed incoming call to `receptionist`, streams the caller for the call's length, and hangs up. */
async function runCall(options: CallsOptions, receptionist: Receptionist, plan: { bargeInAtMs?: number }): Promise<CallRun> {
  const callSid = `CA${crypto.randomUUID().replaceAll("-", "")}`;
  const params = {
    AccountSid: DEFAULT_FAKE_TWILIO_ACCOUNT.sid,
    CallSid: callSid,
    From: "+15125550100",
    To: receptionist.number,
    CallStatus: "ringing",
    Direction: "inbound",
  };
  const url = `${options.baseUrl}/v1/voice/twilio/incoming`;
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "X-Twilio-Signature": await twilioSignature(DEFAULT_FAKE_TWILIO_ACCOUNT.authToken, url, params),
    },
    body: new URLSearchParams(params),
  });
  const twiml = await response.text();
  const streamUrl = /<Stream url="([^"]+)"/.exec(twiml)?.[1]?.replaceAll("&amp;", "&");
  if (response.status !== 200 || !streamUrl) throw new Error(`bench calls: incoming call answered ${response.status} ${twiml.slice(0, 300)}`);

  const socket = new WebSocket(streamUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  // `ws` speaks the browser WebSocket interface the protocol class expects (addEventListener, send, close).
  const call = attachCall(socket as unknown as globalThis.WebSocket, { callSid });
  const framesSentAt: number[] = [];
  const silence = new Uint8Array(TWILIO_FRAME_BYTES).fill(ULAW_SILENCE);
  const frames = Math.round((options.callSeconds * 1000) / FRAME_MS);
  const began = Date.now();
  let bargeIn: CallRun["bargeIn"];
  let bargeInDue = plan.bargeInAtMs;
  for (let i = 0; i < frames; i++) {
    await sleep(began + i * FRAME_MS - Date.now());
    call.sendFrame(silence);
    framesSentAt.push(Date.now());
    if (bargeInDue !== undefined && i * FRAME_MS >= bargeInDue && modelIsSpeaking(call)) {
      bargeInDue = undefined;
      void bargeInNow(options, receptionist, call).then((measured) => {
        bargeIn = measured;
      });
    }
  }
  // The last reply's audio still on its way, then the caller hangs up.
  await sleep(500);
  call.hangUp();
  await call.closed;
  return { call, framesSentAt, durationMs: Date.now() - began, bargeIn };
}

/** Model audio reached the caller in the last 60 ms: a response is being spoken. */
function modelIsSpeaking(call: TwilioCall): boolean {
  const last = call.received.findLast((entry) => entry.message.event === "media");
  return last !== undefined && Date.now() - last.at < 60;
}

/** The fake model hears the caller start talking; answers how long the `clear` took to reach the caller. */
async function bargeInNow(options: CallsOptions, receptionist: Receptionist, call: TwilioCall): Promise<CallRun["bargeIn"]> {
  const clearsBefore = call.clears.length;
  // The fake sends speech_started before it answers the control request: this is the earliest the bridge could know.
  const saidAt = Date.now();
  await fakeControl(options.fakes.realtimeUrl, "/_fake/realtime/speech-started", { scope: receptionist.scope });
  await call.waitFor(() => call.clears.length > clearsBefore, "the clear after speech_started", 5000);
  const clear = call.clears[clearsBefore];
  if (!clear) return undefined;
  return { clearDelayMs: clear.at - saidAt, playedMsAtClear: clear.playedMs };
}

// ---------------------------------------------------------------- pairing sent and received frames

interface PairedCall {
  callerToModelMs: number[];
  modelToCallerMs: number[];
  truncateErrorMs: number | undefined;
  callerFramesSent: number;
  callerFramesArrived: number;
  modelFramesSent: number;
  modelFramesArrived: number;
}

interface FakeConnection {
  scope: string;
  events: { type: string; at: string; bytes?: number }[];
  truncates: { item_id: string; audio_end_ms: number }[];
  responses: { item_id: string | null; audio_ms_sent: number; audio_sent_at: number[]; status: string }[];
}

/** Both directions of one call, frame by frame, from the fake's records and the caller's. */
async function pairLatencies(options: CallsOptions, receptionist: Receptionist, run: CallRun): Promise<PairedCall> {
  const response = await fetch(`${options.fakes.realtimeUrl}/_fake/realtime/sessions?scope=${encodeURIComponent(receptionist.scope)}`);
  const { connections } = (await response.json()) as { connections: FakeConnection[] };
  const connection = connections.at(-1);
  if (!connection) throw new Error(`bench calls: the fake model never heard from ${receptionist.scope}`);

  const appends = connection.events
    .filter((event) => event.type === "input_audio_buffer.append")
    .map((event) => ({ at: Date.parse(event.at), bytes: event.bytes ?? 0 }));
  const callerSent = run.framesSentAt.map((at) => ({ at, bytes: TWILIO_FRAME_BYTES }));
  // Frames sent before the model's session was ready wait in the bridge by design: not per-frame latency.
  const firstAppendAt = appends[0]?.at ?? Number.POSITIVE_INFINITY;
  const callerToModelMs = pairByBytes(callerSent, appends)
    .filter((pair) => pair.sentAt >= firstAppendAt)
    .map((pair) => pair.latencyMs);

  const deltas = connection.responses.flatMap((r) => r.audio_sent_at.map((at) => ({ at, bytes: TWILIO_FRAME_BYTES })));
  const media = run.call.received
    .filter((entry) => entry.message.event === "media")
    .map((entry) => ({ at: entry.at, bytes: fromBase64(String(entry.message.media?.payload ?? ""))?.byteLength ?? 0 }));
  const modelToCallerMs = pairByBytes(deltas, media).map((pair) => pair.latencyMs);

  // The barge-in's first truncate is the reply being heard; every reply before it had played in full.
  let truncateErrorMs: number | undefined;
  const truncate = connection.truncates[0];
  const cut = connection.responses.findIndex((r) => truncate && r.item_id === truncate.item_id);
  if (run.bargeIn && truncate && cut >= 0) {
    const earlier = connection.responses.slice(0, cut).reduce((sum, r) => sum + r.audio_ms_sent, 0);
    truncateErrorMs = truncate.audio_end_ms - (run.bargeIn.playedMsAtClear - earlier);
  }
  const bytes = (events: { bytes: number }[]) => events.reduce((sum, event) => sum + event.bytes, 0);
  return {
    callerToModelMs,
    modelToCallerMs,
    truncateErrorMs,
    callerFramesSent: callerSent.length,
    callerFramesArrived: Math.round(bytes(appends) / TWILIO_FRAME_BYTES),
    modelFramesSent: deltas.length,
    modelFramesArrived: Math.round(bytes(media) / TWILIO_FRAME_BYTES),
  };
}

/**
 * Each received chunk paired with the sent chunk that carried its last byte (the bridge may
 * regroup audio), so a chunk's latency is when it arrived minus when its audio left.
 */
function pairByBytes(sent: { at: number; bytes: number }[], received: { at: number; bytes: number }[]): { sentAt: number; latencyMs: number }[] {
  const pairs: { sentAt: number; latencyMs: number }[] = [];
  let sentIndex = 0;
  let sentEnd = sent[0]?.bytes ?? 0;
  let receivedEnd = 0;
  for (const chunk of received) {
    receivedEnd += chunk.bytes;
    while (sentEnd < receivedEnd && sentIndex < sent.length - 1) {
      sentIndex++;
      sentEnd += sent[sentIndex]?.bytes ?? 0;
    }
    const origin = sent[sentIndex];
    if (!origin || sentEnd < receivedEnd) break;
    pairs.push({ sentAt: origin.at, latencyMs: chunk.at - origin.at });
  }
  return pairs;
}

// ---------------------------------------------------------------- setup

async function orgOf(options: CallsOptions): Promise<string> {
  const me = (await api(options, options.accessToken, "GET", "/v1/auth/me", undefined, 200)) as { orgs: { id: string }[] };
  const orgId = me.orgs[0]?.id;
  if (!orgId) throw new Error("bench calls: the bench user has no organisation");
  return orgId;
}

/** `count` assistants, each answering a number of its own and scripted in the fake model. */
async function receptionists(options: CallsOptions, orgId: string, count: number): Promise<Receptionist[]> {
  const made: Receptionist[] = [];
  const turns = Math.max(1, Math.floor((options.callSeconds * 1000 - REPLY_MS) / TURN_EVERY_MS));
  for (let i = 0; i < count; i++) {
    const scope = `BenchCaller-${crypto.randomUUID().slice(0, 8)}`;
    const assistant = (await api(
      options,
      options.accessToken,
      "POST",
      "/v1/assistants",
      { name: scope, business_name: "Bench Dental", timezone: "UTC" },
      201,
      orgId,
    )) as {
      id: string;
    };
    const number = `+1737${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}`;
    await fakeControl(options.fakes.twilioUrl, "/_fake/numbers", { phone_number: number }, 201);
    await api(options, options.accessToken, "POST", `/v1/assistants/${assistant.id}/phone-numbers`, { phone_number: number }, 201, orgId);
    await fakeControl(options.fakes.realtimeUrl, "/_fake/realtime/script", {
      scope,
      match_instructions: scope,
      pace: "realtime",
      turns: Array.from({ length: turns }, (_, turn) => ({ after_audio_ms: TURN_EVERY_MS, reply: `Fake answer ${turn + 1}.`, reply_audio_ms: REPLY_MS })),
    });
    made.push({ scope, number });
  }
  return made;
}

async function api(options: CallsOptions, token: string, method: string, pathname: string, body: unknown, expected: number, orgId?: string): Promise<unknown> {
  const response = await fetch(`${options.baseUrl}${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...(orgId ? { "X-Org-Id": orgId } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) throw new Error(`bench calls ${method} ${pathname}: ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function fakeControl(fakeUrl: string, pathname: string, body: unknown, expected = 204): Promise<void> {
  const response = await fetch(`${fakeUrl}${pathname}`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (response.status !== expected) throw new Error(`bench calls fake ${pathname}: ${response.status} ${await response.text()}`);
}

/** The Pro plan through a subscription row, and credits through the platform's adjustment route by the staff user made super admin for it. */
async function grantCredits(options: CallsOptions, orgId: string, amount: number): Promise<void> {
  const db = new pg.Client({ connectionString: options.databaseUrl });
  await db.connect();
  try {
    await db.query("UPDATE users SET is_super_admin = true WHERE email = $1", [options.staff.email]);
    // The Pro plan's 25 numbers, as a paid subscription would give them (the free plan allows one): a call per assistant and number.
    await db.query(
      "INSERT INTO subscriptions (stripe_subscription_id, org_id, stripe_customer_id, plan, status, last_event_at) VALUES ($1, $2, $3, 'pro', 'active', 0)",
      [`sub_bench_${orgId}`, orgId, `cus_bench_${orgId}`],
    );
  } finally {
    await db.end();
  }
  await api(options, options.staff.accessToken, "POST", "/v1/credits/adjustments", { org_id: orgId, amount, note: "npm run bench: credits for calls" }, 201);
}

// ---------------------------------------------------------------- CPU of workerd

/** utime + stime (ms) of every workerd process below `rootPid`. */
function workerdCpuMs(rootPid: number): number {
  let ticks = 0;
  for (const pid of descendants(rootPid)) {
    const stat = readStat(pid);
    if (stat?.comm === "workerd") ticks += stat.utime + stat.stime;
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

function descendants(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    const stat = Number.isInteger(pid) ? readStat(pid) : undefined;
    if (stat) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  const found: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function readStat(pid: number): { comm: string; ppid: number; utime: number; stime: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: the fields after it are split on spaces.
    const close = text.lastIndexOf(")");
    const fields = text.slice(close + 2).split(" ");
    return { comm: text.slice(text.indexOf("(") + 1, close), ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- figures

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The figures as `npm run bench` prints them, one `name value` a line, milliseconds to one decimal. */
export function formatCallsFigures(figures: CallsFigures): string {
  const ms = (value: number) => (Math.round(value * 10) / 10).toFixed(1);
  const p50p99 = (name: string, values: number[]) => [
    `calls_${name}_frames ${values.length}`,
    `calls_${name}_p50_ms ${ms(percentile(values, 50))}`,
    `calls_${name}_p99_ms ${ms(percentile(values, 99))}`,
  ];
  return [
    `calls_call_seconds ${figures.callSeconds}`,
    ...p50p99("caller_to_model_latency", figures.callerToModelMs),
    ...p50p99("model_to_caller_latency", figures.modelToCallerMs),
    `calls_clear_after_speech_started_ms ${ms(figures.clearDelayMs)}`,
    `calls_truncate_error_vs_heard_ms ${ms(figures.truncateErrorMs)}`,
    `calls_concurrent ${figures.concurrentCalls}`,
    `calls_concurrent_workerd_cpu_ms_per_call_second ${ms(figures.cpuMsPerCallSecond)}`,
    `calls_concurrent_caller_frames_sent ${figures.framesSent.callerToModel}`,
    `calls_concurrent_caller_frames_lost ${figures.framesLost.callerToModel}`,
    `calls_concurrent_model_frames_sent ${figures.framesSent.modelToCaller}`,
    `calls_concurrent_model_frames_lost ${figures.framesLost.modelToCaller}`,
  ].join("\n");
}
