/**
 * The Twilio Media Streams protocol as a caller's side speaks it, over any accepted WebSocket: no
 * vitest or workerd import, so both test files (through ./twilio-caller.ts) and Node scripts
 * (`npm run bench`, `npm run call:simulate`, with a `ws` socket) use it. It sends `connected` and
 * `start`, streams the caller's u-law audio as 160-byte `media` frames (20 ms each,
 * sequenceNumber/chunk/timestamp as Twilio numbers them), `dtmf` and `stop`, and plays back what
 * the bridge sends the way Twilio does:
 * - outbound audio queues and plays in real time (8 bytes of u-law per ms);
 * - a `mark` is echoed only once the audio queued before it has played;
 * - `clear` drops the audio not yet played and echoes the pending marks at once.
 * `playedMs()` is the audio the caller actually heard, to compare with the bridge's truncate point.
 */

/** 20 ms of 8 kHz u-law: the payload of every `media` frame Twilio sends. */
export const TWILIO_FRAME_BYTES = 160;
const BYTES_PER_MS = 8;
/** u-law silence (the code for a zero sample). */
const ULAW_SILENCE = 0xff;

export interface CallOptions {
  callSid?: string;
  streamSid?: string;
  accountSid?: string;
  /** The `<Parameter>`s of the TwiML `<Stream>`, which Twilio passes only in `start`. */
  customParameters?: Record<string, string>;
  /** Extra upgrade headers (Twilio signs the upgrade with `X-Twilio-Signature`). */
  headers?: Record<string, string>;
  /** Who answers the upgrade: the Worker by default, or e.g. a CallSession stub. */
  via?: { fetch(input: string, init?: RequestInit): Promise<Response> };
  /** Send `connected` and `start` at once (default true). */
  start?: boolean;
}

/** A message the bridge sent to "Twilio", as received. */
export interface BridgeMessage {
  at: number;
  message: { event: string; streamSid?: string; media?: { payload: string }; mark?: { name: string } } & Record<string, unknown>;
}

/** The upgrade was answered with something other than 101. */
export class StreamRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`the stream upgrade was refused: ${status} ${body}`);
  }
}

/** A call over an accepted WebSocket already in hand (one end of a WebSocketPair, in tests of the simulator itself). */
export function attachCall(socket: WebSocket, options: CallOptions = {}): TwilioCall {
  const call = new TwilioCall(socket, options);
  if (options.start ?? true) call.start();
  return call;
}

interface QueuedAudio {
  bytes: Uint8Array;
  /** When this audio starts playing (epoch ms). */
  startsAt: number;
  /** Bytes still to be played when a clear cut it short (undefined: not cut). */
  keptBytes?: number;
}

interface PendingMark {
  name: string;
  timer: ReturnType<typeof setTimeout>;
}

export class TwilioCall {
  readonly callSid: string;
  readonly streamSid: string;
  readonly accountSid: string;
  /** Everything the bridge sent, in order. */
  readonly received: BridgeMessage[] = [];
  /** Marks echoed back, in order. */
  readonly echoedMarks: { name: string; at: number; playedMs: number }[] = [];
  /** Each `clear`: when, and how much had played by then. */
  readonly clears: { at: number; playedMs: number; droppedMs: number }[] = [];
  /** What Twilio would have rejected (not JSON, unknown event, another stream's sid, a bad payload). */
  readonly protocolErrors: string[] = [];
  /** Resolves when the socket closes, by either side. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private sequenceNumber = 0;
  private chunk = 0;
  private mediaTimestampMs = 0;
  private readonly playback: QueuedAudio[] = [];
  private pendingMarks: PendingMark[] = [];
  private socketClosed = false;
  /** The socket has closed (either side hung up). */
  get isClosed(): boolean {
    return this.socketClosed;
  }

  constructor(
    private readonly socket: WebSocket,
    private readonly options: CallOptions,
  ) {
    this.callSid = options.callSid ?? `CA${randomHex(32)}`;
    this.streamSid = options.streamSid ?? `MZ${randomHex(32)}`;
    this.accountSid = options.accountSid ?? "ACa1b2c3d4e5f60718293a4b5c6d7e8f90";
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        this.socketClosed = true;
        resolve({ code: event.code, reason: event.reason });
      });
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
  }

  // ---------------------------------------------------------------- what the caller sends

  /** `connected`, then `start` with the call's sids and custom parameters. */
  start(): void {
    this.send({ event: "connected", protocol: "Call", version: "1.0.0" });
    this.send({
      event: "start",
      sequenceNumber: this.nextSequence(),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ["inbound"],
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
        customParameters: this.options.customParameters ?? {},
      },
      streamSid: this.streamSid,
    });
  }

  /**
   * The caller speaks `ulaw` (8 kHz u-law): 160-byte frames, the last padded with silence.
   * `pace: "realtime"` sends one frame per 20 ms as a phone does; "fast" (default) sends them all now.
   */
  async say(ulaw: Uint8Array, pace: "realtime" | "fast" = "fast"): Promise<void> {
    const began = Date.now();
    for (let at = 0, index = 0; at < ulaw.byteLength; at += TWILIO_FRAME_BYTES, index++) {
      if (this.socketClosed) return;
      if (pace === "realtime") await sleep(began + index * 20 - Date.now());
      const frame = new Uint8Array(TWILIO_FRAME_BYTES).fill(ULAW_SILENCE);
      frame.set(ulaw.subarray(at, at + TWILIO_FRAME_BYTES));
      this.sendFrame(frame);
    }
  }

  /** `ms` of silence, as Twilio keeps streaming while nobody talks. */
  silence(ms: number, pace: "realtime" | "fast" = "fast"): Promise<void> {
    return this.say(new Uint8Array(Math.ceil(ms / 20) * TWILIO_FRAME_BYTES).fill(ULAW_SILENCE), pace);
  }

  /** One frame exactly as given (160 bytes for a faithful call). */
  sendFrame(payload: Uint8Array): void {
    this.chunk += 1;
    this.send({
      event: "media",
      sequenceNumber: this.nextSequence(),
      media: { track: "inbound", chunk: String(this.chunk), timestamp: String(this.mediaTimestampMs), payload: toBase64(payload) },
      streamSid: this.streamSid,
    });
    this.mediaTimestampMs += Math.round(payload.byteLength / BYTES_PER_MS);
  }

  /** The caller presses a key. */
  pressKey(digit: string): void {
    this.send({ event: "dtmf", streamSid: this.streamSid, sequenceNumber: this.nextSequence(), dtmf: { track: "inbound_track", digit } });
  }

  /** `stop` (the caller hung up), then Twilio closes the socket. */
  hangUp(): void {
    if (this.socketClosed) return;
    this.send({ event: "stop", sequenceNumber: this.nextSequence(), streamSid: this.streamSid, stop: { accountSid: this.accountSid, callSid: this.callSid } });
    this.socket.close(1000, "call ended");
    this.socketClosed = true;
    for (const mark of this.pendingMarks) clearTimeout(mark.timer);
    this.pendingMarks = [];
  }

  /** Any message, for cases the helpers above do not cover (a malformed frame). */
  send(message: Record<string, unknown>): void {
    if (this.socketClosed) return;
    this.socket.send(JSON.stringify(message));
  }

  // ---------------------------------------------------------------- what the caller hears

  /** Milliseconds of the bridge's audio played to the caller so far (cleared audio never plays). */
  playedMs(now = Date.now()): number {
    return this.playedBytes(now) / BYTES_PER_MS;
  }

  /** The bridge's audio as the caller heard it so far. */
  playedAudio(now = Date.now()): Uint8Array {
    const parts = this.playback.map((queued) => queued.bytes.subarray(0, this.playedOf(queued, now)));
    return concat(parts);
  }

  /** Every byte of audio the bridge sent, played or not. */
  receivedAudio(): Uint8Array {
    return concat(this.playback.map((queued) => queued.bytes));
  }

  /** Messages of one event type the bridge sent. */
  messages(event: string): BridgeMessage["message"][] {
    return this.received.filter((entry) => entry.message.event === event).map((entry) => entry.message);
  }

  /** Waits until `condition` holds (checked every 10 ms), failing after `timeoutMs`. */
  async waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(10);
    }
  }

  // ---------------------------------------------------------------- Twilio's side of playback

  private receive(data: string | ArrayBuffer): void {
    if (typeof data !== "string") {
      this.protocolErrors.push("a binary frame (Twilio accepts JSON text only)");
      return;
    }
    let message: BridgeMessage["message"];
    try {
      message = JSON.parse(data) as BridgeMessage["message"];
    } catch {
      this.protocolErrors.push(`not JSON: ${data.slice(0, 80)}`);
      return;
    }
    this.received.push({ at: Date.now(), message });
    if (message.streamSid !== this.streamSid) this.protocolErrors.push(`${message.event} for stream ${String(message.streamSid)}, not ${this.streamSid}`);
    if (message.event === "media") this.queueAudio(message.media?.payload);
    else if (message.event === "mark") this.queueMark(message.mark?.name);
    else if (message.event === "clear") this.clear();
    else this.protocolErrors.push(`unknown event ${String(message.event)}`);
  }

  private queueAudio(payload: string | undefined): void {
    const bytes = payload === undefined ? undefined : fromBase64(payload);
    if (!bytes || bytes.byteLength === 0) {
      this.protocolErrors.push("media without a base64 payload");
      return;
    }
    const now = Date.now();
    this.playback.push({ bytes, startsAt: Math.max(now, this.playEndsAt()) });
  }

  private queueMark(name: string | undefined): void {
    if (typeof name !== "string") {
      this.protocolErrors.push("mark without mark.name");
      return;
    }
    const wait = Math.max(0, this.playEndsAt() - Date.now());
    const pending: PendingMark = { name, timer: setTimeout(() => this.echoMark(pending), wait) };
    this.pendingMarks.push(pending);
  }

  private echoMark(mark: PendingMark): void {
    this.pendingMarks = this.pendingMarks.filter((other) => other !== mark);
    this.echoedMarks.push({ name: mark.name, at: Date.now(), playedMs: this.playedMs() });
    this.send({ event: "mark", sequenceNumber: this.nextSequence(), streamSid: this.streamSid, mark: { name: mark.name } });
  }

  private clear(): void {
    const now = Date.now();
    const before = this.queuedBytes();
    for (const queued of this.playback) {
      queued.keptBytes = this.playedOf(queued, now);
      // Audio that had not started never will: what comes next plays from now.
      queued.startsAt = Math.min(queued.startsAt, now);
    }
    this.clears.push({ at: now, playedMs: this.playedMs(now), droppedMs: (before - this.queuedBytes()) / BYTES_PER_MS });
    for (const mark of this.pendingMarks.splice(0)) {
      clearTimeout(mark.timer);
      this.echoMark(mark);
    }
  }

  /** When everything queued so far will have played. */
  private playEndsAt(): number {
    const last = this.playback.at(-1);
    if (!last) return 0;
    return last.startsAt + (last.keptBytes ?? last.bytes.byteLength) / BYTES_PER_MS;
  }

  private playedOf(queued: QueuedAudio, now: number): number {
    const length = queued.keptBytes ?? queued.bytes.byteLength;
    return Math.max(0, Math.min(length, Math.floor((now - queued.startsAt) * BYTES_PER_MS)));
  }

  private playedBytes(now: number): number {
    return this.playback.reduce((sum, queued) => sum + this.playedOf(queued, now), 0);
  }

  private queuedBytes(): number {
    return this.playback.reduce((sum, queued) => sum + (queued.keptBytes ?? queued.bytes.byteLength), 0);
  }

  private nextSequence(): string {
    this.sequenceNumber += 1;
    return String(this.sequenceNumber);
  }
}

// ---------------------------------------------------------------- small helpers

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function randomHex(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length / 2));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes as base64, the way Media Streams and Realtime payloads carry audio. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A base64 payload back to bytes; undefined when it is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The parts one after another. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
