/**
 * `npm run call:simulate`: one phone call to a running `npm run dev` (best with FAKE_PROVIDERS=1),
 * placed the way Twilio places it, so a new user can watch a whole call locally:
 * 1. signs in (the demo user by default) and picks an assistant with a phone number, or makes
 *    "Demo Receptionist" and buys it a number from the (fake) Twilio;
 * 2. posts the signed `POST /v1/voice/twilio/incoming` webhook and reads the TwiML;
 * 3. opens the stream URL from it as a Media Streams client (tests/harness/twilio-stream.ts), says
 *    each line (plainly fake speech: a tone burst per word, or a WAV of your own), waits for the
 *    assistant's answer and plays it back in real time as Twilio would;
 * 4. hangs up, then prints the call record from `GET /v1/calls/{id}`: status, duration, transcript,
 *    usage and cost, and writes what the caller heard to a WAV file.
 *
 * Options (or the variables in brackets):
 *   --url <base>          the API (BILLX_URL; http://127.0.0.1:$PORT, 8787 by default)
 *   --email, --password   who signs in (BILLX_EMAIL, default demo@billx.local; BILLX_PASSWORD)
 *   --token <bearer>      an access token or API key instead (BILLX_TOKEN)
 *   --org <id>            the organisation (X-Org-Id) when the user has several
 *   --assistant <id>      the assistant to call (default: the first with a number)
 *   --from <E.164>        the caller's number (+15555550123)
 *   --say <text>          a line the caller says; repeat for several (default: two lines)
 *   --wav <file>          say this 8 kHz mono WAV (PCM16 or u-law) instead of fake speech
 *   --digits <keys>       keys pressed after the first line
 *   --out <file.wav>      where to write what the caller heard (.data/calls/<CallSid>.wav)
 * The webhook is signed with TWILIO_AUTH_TOKEN, the fake Twilio's token by default.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";
import { twilioSignature } from "../src/lib/signatures.ts";
import { mulawEncodeSample, parseWav, renderSpeech, WAV_MULAW, wrapWav } from "../tests/fakes/audio.ts";
import { DEFAULT_FAKE_TWILIO_ACCOUNT } from "../tests/fakes/twilio.ts";
import { attachCall, TWILIO_FRAME_BYTES, type TwilioCall } from "../tests/harness/twilio-stream.ts";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    email: { type: "string" },
    password: { type: "string" },
    token: { type: "string" },
    org: { type: "string" },
    assistant: { type: "string" },
    from: { type: "string", default: "+15555550123" },
    say: { type: "string", multiple: true },
    wav: { type: "string" },
    digits: { type: "string" },
    out: { type: "string" },
  },
});

const base = (args.url ?? process.env.BILLX_URL ?? `http://127.0.0.1:${process.env.PORT ?? "8787"}`).replace(/\/+$/, "");
const authToken = process.env.TWILIO_AUTH_TOKEN ?? DEFAULT_FAKE_TWILIO_ACCOUNT.authToken;
const accountSid = process.env.TWILIO_ACCOUNT_SID ?? DEFAULT_FAKE_TWILIO_ACCOUNT.sid;
const lines = args.say?.length ? args.say : ["Hello, I would like to book a cleaning next week.", "Thank you, goodbye."];
/** How long the caller waits for the assistant to start answering a line, and the quiet that ends its answer. */
const ANSWER_WAIT_MS = 15_000;
const ANSWER_OVER_AFTER_QUIET_MS = 800;
/** u-law silence (the code for a zero sample). */
const ULAW_SILENCE = 0xff;

const say = (who: string, line: string) => console.log(`[${who}] ${line}`);

async function main(): Promise<void> {
  const health = (await (
    await fetch(`${base}/healthz`).catch(() => fail(`nothing answers on ${base}: start the API with FAKE_PROVIDERS=1 npm run dev`))
  ).json()) as {
    fake_providers?: string[];
  };
  const faked = health.fake_providers ?? [];
  for (const provider of ["twilio", "openai-realtime"]) {
    if (!faked.includes(provider)) say("call", `note: ${provider} is not faked on this server: the call uses the real provider configured there`);
  }

  const api = await signIn();
  const target = await assistantWithNumber(api);
  const callSid = `CA${crypto.randomUUID().replaceAll("-", "")}`;
  say("call", `${args.from} calls ${target.number} (${target.name}), CallSid ${callSid}`);

  const streamUrl = await ring(callSid, target.number);
  if (!streamUrl) return;
  const socket = new WebSocket(streamUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.once("unexpected-response", (_request, response) => reject(new Error(`the stream upgrade was refused: ${response.statusCode}`)));
  });
  // `ws` speaks the browser WebSocket interface the protocol client expects.
  const call = attachCall(socket as unknown as globalThis.WebSocket, { callSid, accountSid });
  say("call", "stream open: the CallSession Durable Object is bridging to the Realtime model");
  const began = Date.now();
  const phone = new PhoneLine(call);

  await hearAnswer(call, "greeting");
  for (const [index, line] of lines.entries()) {
    if (call.isClosed) break;
    const audio = args.wav ? wavAsUlaw(args.wav) : renderSpeech(line, { kind: "ulaw", sampleRate: 8000 }).bytes;
    say("caller", args.wav ? `(says ${path.basename(args.wav)}, ${(audio.byteLength / 8000).toFixed(1)} s)` : line);
    await phone.speak(audio);
    await hearAnswer(call, "answer");
    if (index === 0 && args.digits && !call.isClosed) {
      for (const digit of args.digits) call.pressKey(digit);
      say("caller", `(presses ${args.digits})`);
      await hearAnswer(call, "answer to the keys");
    }
  }
  if (!call.isClosed) {
    say("caller", "(hangs up)");
    call.hangUp();
  }
  await call.closed;
  say("call", `ended after ${((Date.now() - began) / 1000).toFixed(1)} s; ${(call.playedMs() / 1000).toFixed(1)} s of the assistant heard`);

  const heard = call.playedAudio();
  const out = args.out ?? path.join(".data", "calls", `${callSid}.wav`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, wrapWav(heard, 8000, WAV_MULAW));
  say("call", `what the caller heard: ${out}`);

  await printRecord(api, target.assistantId, callSid);
}

// ---------------------------------------------------------------- the API

type Api = (method: string, pathname: string, body?: unknown) => Promise<{ status: number; body: Record<string, unknown> }>;

async function signIn(): Promise<Api> {
  let token = args.token ?? process.env.BILLX_TOKEN;
  if (!token) {
    const email = args.email ?? process.env.BILLX_EMAIL ?? "demo@billx.local";
    const password = args.password ?? process.env.BILLX_PASSWORD;
    if (!password) fail(`sign-in: give --password (or BILLX_PASSWORD) for ${email}: npm run dev printed the demo password on its first start`);
    const response = await fetch(`${base}/v1/auth/sign-in`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    const body = (await response.json()) as { access_token?: string; detail?: string };
    if (!response.ok || !body.access_token) fail(`sign-in as ${email}: ${response.status} ${body.detail ?? ""}`);
    token = body.access_token;
  }
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  if (args.org) headers["X-Org-Id"] = args.org;
  return async (method, pathname, body) => {
    const response = await fetch(`${base}${pathname}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, unknown> };
  };
}

interface Target {
  assistantId: string;
  name: string;
  number: string;
}

interface AssistantRow {
  id: string;
  name: string;
  phone_numbers?: string[];
}

/** `--assistant`, else the first assistant that has a number, else a new one with a number bought for it. */
async function assistantWithNumber(api: Api): Promise<Target> {
  let assistant: AssistantRow | undefined;
  if (args.assistant) {
    const found = await api("GET", `/v1/assistants/${encodeURIComponent(args.assistant)}`);
    if (found.status !== 200) fail(`assistant ${args.assistant}: ${found.status} ${String(found.body.detail ?? "")}`);
    assistant = found.body as unknown as AssistantRow;
  } else {
    const listed = await api("GET", "/v1/assistants?limit=100");
    if (listed.status !== 200) fail(`listing assistants: ${listed.status} ${String(listed.body.detail ?? "")}`);
    const rows = (listed.body.data ?? []) as AssistantRow[];
    assistant = rows.find((row) => row.phone_numbers?.length) ?? rows.find((row) => row.name === "Demo Receptionist");
  }
  if (!assistant) {
    const made = await api("POST", "/v1/assistants", {
      name: "Demo Receptionist",
      business_name: "Demo Dental",
      timezone: "America/New_York",
      weekly_hours: { mon: [["09:00", "17:00"]], tue: [["09:00", "17:00"]], wed: [["09:00", "17:00"]], thu: [["09:00", "17:00"]], fri: [["09:00", "17:00"]] },
    });
    if (made.status !== 201) fail(`creating the demo assistant: ${made.status} ${String(made.body.detail ?? "")}`);
    assistant = made.body as unknown as AssistantRow;
    say("call", `made the assistant "Demo Receptionist" (${assistant.id})`);
  }
  let number = assistant.phone_numbers?.[0];
  if (!number) {
    const bought = await api("POST", `/v1/assistants/${assistant.id}/phone-numbers`, { area_code: "415" });
    if (bought.status !== 201) fail(`buying a number for ${assistant.name}: ${bought.status} ${String(bought.body.detail ?? "")}`);
    number = String(bought.body.phone_number);
    say("call", `bought ${number} from Twilio for ${assistant.name}`);
  }
  return { assistantId: assistant.id, name: assistant.name, number };
}

/** The signed incoming-call webhook; answers the stream URL, or undefined when the TwiML hangs up (said why). */
async function ring(callSid: string, to: string): Promise<string | undefined> {
  const params = { AccountSid: accountSid, CallSid: callSid, From: args.from, To: to, CallStatus: "ringing", Direction: "inbound" };
  const url = `${base}/v1/voice/twilio/incoming`;
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": await twilioSignature(authToken, url, params) },
    body: new URLSearchParams(params),
  });
  const twiml = await response.text();
  if (response.status !== 200) fail(`the incoming-call webhook answered ${response.status}: ${twiml.slice(0, 300)}`);
  const streamUrl = /<Stream url="([^"]+)"/.exec(twiml)?.[1]?.replaceAll("&amp;", "&");
  if (streamUrl) return streamUrl;
  const spoken = [...twiml.matchAll(/<Say[^>]*>([^<]*)<\/Say>/g)].map((match) => match[1]).join(" ");
  say("call", `Twilio would say "${spoken}" and hang up (no stream): ${twiml}`);
  return undefined;
}

/** Waits for the assistant to speak, then for its audio to stop arriving and finish playing. */
async function hearAnswer(call: TwilioCall, what: string): Promise<void> {
  const mediaCount = () => call.received.filter((entry) => entry.message.event === "media").length;
  const before = mediaCount();
  const playedBefore = call.playedMs();
  try {
    await call.waitFor(() => call.isClosed || mediaCount() > before, `the assistant's ${what}`, ANSWER_WAIT_MS);
  } catch {
    say("assistant", `(no ${what} within ${ANSWER_WAIT_MS / 1000} s)`);
    return;
  }
  if (call.isClosed) return;
  const lastMediaAt = () => call.received.findLast((entry) => entry.message.event === "media")?.at ?? 0;
  await call.waitFor(() => call.isClosed || Date.now() - lastMediaAt() > ANSWER_OVER_AFTER_QUIET_MS, "the end of the answer", 120_000);
  // The answer plays in real time: wait until the caller has heard all of it.
  await call.waitFor(() => call.isClosed || call.playedMs() * 8 >= call.receivedAudio().byteLength, "the answer to play", 120_000);
  say("assistant", `(speaks for ${((call.playedMs() - playedBefore) / 1000).toFixed(1)} s)`);
}

interface CallRecord {
  id: string;
  call_sid: string;
  status: string;
  duration_s: number | null;
  end_reason: string | null;
  transcript: { role: string; text: string; at: string }[];
  usage: unknown;
  cost: unknown;
}

/** The call's record once the bridge has finalised it (a few seconds at most). */
async function printRecord(api: Api, assistantId: string, callSid: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let record: CallRecord | undefined;
  while (Date.now() < deadline) {
    const listed = await api("GET", `/v1/calls?assistant_id=${encodeURIComponent(assistantId)}&limit=20`);
    const row = ((listed.body.data ?? []) as CallRecord[]).find((call) => call.call_sid === callSid);
    if (row) {
      const full = await api("GET", `/v1/calls/${row.id}`);
      record = full.body as unknown as CallRecord;
      if (record.status !== "in_progress" && record.status !== "queued" && record.status !== "ringing") break;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  if (!record) fail(`no call record for ${callSid}`);
  say("record", `${record.id}: ${record.status}, ${record.duration_s ?? "?"} s, end reason ${record.end_reason ?? "none"}`);
  for (const turn of record.transcript) say("record", `  ${turn.at.slice(11, 19)} ${turn.role.padEnd(9)} ${turn.text}`);
  say("record", `usage ${JSON.stringify(record.usage)}`);
  say("record", `cost ${JSON.stringify(record.cost)}`);
}

// ---------------------------------------------------------------- audio

/**
 * The caller's microphone as Twilio streams it: a 160-byte frame every 20 ms for the whole call,
 * silence between what the caller says (the model's voice activity detection needs that silence
 * to hear the end of a sentence).
 */
class PhoneLine {
  private queued: Uint8Array = new Uint8Array(0);
  private drained: (() => void) | undefined;

  constructor(private readonly call: TwilioCall) {
    void this.run();
  }

  /** Says `ulaw` at real time; resolves when its last frame has been sent. */
  speak(ulaw: Uint8Array): Promise<void> {
    this.queued = ulaw;
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  private async run(): Promise<void> {
    const began = Date.now();
    for (let index = 0; !this.call.isClosed; index++) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, began + index * 20 - Date.now())));
      const frame = new Uint8Array(TWILIO_FRAME_BYTES).fill(ULAW_SILENCE);
      frame.set(this.queued.subarray(0, TWILIO_FRAME_BYTES));
      this.queued = this.queued.subarray(TWILIO_FRAME_BYTES);
      this.call.sendFrame(frame);
      if (this.queued.byteLength === 0 && this.drained) {
        this.drained();
        this.drained = undefined;
      }
    }
  }
}

/** An 8 kHz mono WAV as u-law bytes (already u-law: as is; PCM16: encoded). */
function wavAsUlaw(file: string): Uint8Array {
  const wav = parseWav(new Uint8Array(readFileSync(file)));
  if (!wav) fail(`${file} is not a WAV file`);
  if (wav.sampleRate !== 8000 || wav.channels !== 1) fail(`${file}: the call needs 8 kHz mono audio (it is ${wav.sampleRate} Hz, ${wav.channels} channels)`);
  if (wav.format === WAV_MULAW) return wav.data;
  if (!wav.samples) fail(`${file}: only PCM or u-law WAV can be said`);
  return Uint8Array.from(wav.samples, mulawEncodeSample);
}

function fail(message: string): never {
  console.error(`[call] ${message}`);
  process.exit(1);
}

await main();
