/**
 * The bridge between one call's two WebSockets: Twilio Media Streams (the caller) and the OpenAI
 * Realtime API (the model). It holds no sockets itself: the CallSession Durable Object feeds it
 * frames and gives it `BridgePorts` to send, so the rules below are tested without a network.
 *
 * - Caller audio waits in order until the model's session is configured (`session.updated`), then
 *   flows straight through: the first frame is never dropped.
 * - Model audio goes to Twilio at once with a mark after each chunk (see PlaybackTracker).
 * - Barge-in: Twilio `clear`, `response.cancel`, and `conversation.item.truncate` at the audio
 *   Twilio confirmed played.
 * - Tools run off the audio path: a slow tool never holds back frames in either direction.
 * - end_call and transfer_call are the bridge's own: the call ends (or is handed to a person)
 *   only once Twilio confirms the last words have played.
 * - The call ends exactly once, whoever closes first.
 */
import { PlaybackTracker, ULAW_BYTES_PER_MS } from "./playback";
import {
  addUsage,
  appendAudio,
  cancelResponse,
  createResponse,
  functionCallOutput,
  NO_USAGE,
  type RealtimeUsage,
  readRealtimeEvent,
  truncateItem,
  userText,
} from "./realtime-events";
import { parseTwilioMessage, twilioClear, twilioMark, twilioMedia } from "./twilio-messages";

export type TurnRole = "caller" | "assistant" | "tool";

export interface CallEnd {
  status: "completed" | "failed";
  endReason: CallEndReason;
  usage: RealtimeUsage;
}

export type CallEndReason =
  | "caller_hung_up"
  | "assistant_ended"
  | "transferred"
  | "transfer_failed"
  | "max_duration"
  | "silence"
  | "out_of_credits"
  | "realtime_unavailable"
  | "stream_closed";

export interface BridgePorts {
  toTwilio(frame: string): void;
  /** Only called between `realtimeOpened` and the next `realtimeClosed`. */
  toRealtime(frame: string): void;
  /** Opens (or re-opens) the Realtime WebSocket; the owner calls `realtimeOpened` or `realtimeClosed` when it knows. */
  openRealtime(): void;
  closeRealtime(): void;
  /** The `session.update` frame; `history` (the conversation so far) is set after a reconnect. */
  sessionUpdate(history: readonly Turn[]): string;
  recordTurn(turn: Turn): void;
  /** Runs a tool (not end_call or transfer_call); its output goes back to the model. */
  runTool(name: string, argumentsJson: string): Promise<string>;
  /** The human number transfer_call puts the caller through to, or null when the business has none. */
  transferNumber(): string | null;
  /** Once per call: close what is still open, write the call's outcome. */
  finish(end: CallEnd, options: { apologise: boolean }): void;
  now(): number;
}

export interface Turn {
  role: TurnRole;
  text: string;
  at: Date;
}

/** Reconnects to the model allowed per call before apologising and hanging up. */
const MAX_RECONNECTS = 1;

/** What the model is told, as caller text, when the bridge (not the caller) needs it to speak. */
const PROMPTS = {
  silence: "(The caller has said nothing for a while. Ask briefly whether they are still there.)",
  silenceGoodbye: "(The caller is still silent. Say a short goodbye; the call then ends.)",
  maxDuration: "(The call has reached its time limit. Apologise and say a short goodbye; the call then ends.)",
  outOfCredits: "(The business cannot take longer calls right now. Apologise and say a short goodbye; the call then ends.)",
} as const;

export class CallBridge {
  private streamSid: string | null = null;
  /** Twilio's CallSid from `start`: the REST API changes the live call by it (the apology). */
  callSid: string | null = null;
  private realtimeOpen = false;
  private sessionReady = false;
  private greeted = false;
  private reconnects = 0;
  private readonly pendingAudio: string[] = [];
  private readonly playback = new PlaybackTracker();
  private readonly turns: Turn[] = [];
  private responseActive = false;
  private usage: RealtimeUsage = NO_USAGE;
  private ended = false;
  /** Set when the next finished response is the goodbye: the call ends once it has played. */
  private endAfterResponse: CallEndReason | null = null;
  private silencePrompted = false;
  /** A transfer_call answered once the response that asked for it is done (the model cannot take a new one before). */
  private transferAsked: { callId: string; argumentsJson: string } | null = null;
  /** Last sign of life from the caller (speech, keypad), for the silence timeout. */
  lastActivityAt: number;
  /** Tool calls still running, so a test (or the owner) can wait for them. */
  readonly toolsRunning = new Set<Promise<void>>();

  constructor(private readonly ports: BridgePorts) {
    this.lastActivityAt = ports.now();
  }

  get isEnded(): boolean {
    return this.ended;
  }

  get started(): boolean {
    return this.streamSid !== null;
  }

  // ------------------------------------------------------------ from Twilio

  twilioMessage(frame: string): void {
    const message = parseTwilioMessage(frame);
    if (!message || this.ended) return;
    switch (message.event) {
      case "start":
        if (this.streamSid) return;
        this.streamSid = message.streamSid;
        this.callSid = message.callSid;
        this.lastActivityAt = this.ports.now();
        this.ports.openRealtime();
        return;
      case "media":
        if (this.sessionReady && this.realtimeOpen) this.ports.toRealtime(appendAudio(message.payload));
        else this.pendingAudio.push(message.payload);
        return;
      case "mark":
        this.playback.confirmed(message.name);
        return;
      case "dtmf":
        this.callerActive();
        this.turns.push({ role: "caller", text: `[pressed ${message.digit}]`, at: new Date(this.ports.now()) });
        this.ports.recordTurn(this.turns.at(-1) as Turn);
        this.say(`(The caller pressed the key ${message.digit} on their keypad.)`);
        return;
      case "stop":
        this.end("completed", "caller_hung_up");
        return;
    }
  }

  /** Twilio's socket closed (with or without a stop message first). */
  twilioClosed(): void {
    this.end("completed", "caller_hung_up");
  }

  // ------------------------------------------------------------ from the model

  realtimeOpened(): void {
    if (this.ended) return;
    this.realtimeOpen = true;
    this.ports.toRealtime(this.ports.sessionUpdate(this.reconnects > 0 ? this.turns : []));
  }

  /** The Realtime socket failed to open or dropped: one reconnect, then an apology and hang-up. */
  realtimeClosed(): void {
    this.realtimeOpen = false;
    this.sessionReady = false;
    this.responseActive = false;
    if (this.ended) return;
    if (this.reconnects < MAX_RECONNECTS) {
      this.reconnects += 1;
      this.ports.openRealtime();
      return;
    }
    this.end("failed", "realtime_unavailable", { apologise: true });
  }

  realtimeMessage(frame: string): void {
    const event = readRealtimeEvent(frame);
    if (!event || this.ended) return;
    switch (event.type) {
      case "session_ready":
        if (this.sessionReady) return;
        this.sessionReady = true;
        // In arrival order, before anything that arrives later: the caller's first words are kept.
        for (const payload of this.pendingAudio.splice(0)) this.ports.toRealtime(appendAudio(payload));
        if (!this.greeted) {
          this.greeted = true;
          this.ports.toRealtime(createResponse());
          this.responseActive = true;
        }
        return;
      case "response_created":
        // Server VAD starts responses on its own: barge-in must know one is being spoken.
        this.responseActive = true;
        return;
      case "speech_started":
        this.callerActive();
        this.bargeIn();
        return;
      case "audio_delta":
        this.playAudio(event.itemId, event.audio);
        return;
      case "assistant_transcript":
        this.addTurn("assistant", event.text);
        return;
      case "caller_transcript":
        this.callerActive();
        this.addTurn("caller", event.text);
        return;
      case "function_call":
        this.toolCall(event.callId, event.name, event.arguments);
        return;
      case "response_done":
        this.responseActive = false;
        if (event.usage) this.usage = addUsage(this.usage, event.usage);
        // A cancelled response is not the last words: the one cut off for the goodbye, or a goodbye the caller talked over.
        if (this.endAfterResponse && event.status !== "cancelled") {
          const reason = this.endAfterResponse;
          void this.playback.drained().then(() => this.end("completed", reason));
        } else if (this.transferAsked) {
          this.answerTransfer(this.transferAsked);
        }
        return;
      case "speech_stopped":
      case "error":
        return;
    }
  }

  // ------------------------------------------------------------ timers the owner drives

  /** Silence: prompt the caller once, then say goodbye and end. */
  silenceTimedOut(): void {
    if (this.ended || this.endAfterResponse) return;
    if (!this.silencePrompted) {
      this.silencePrompted = true;
      this.lastActivityAt = this.ports.now();
      this.say(PROMPTS.silence);
      return;
    }
    this.goodbye("silence", PROMPTS.silenceGoodbye);
  }

  maxDurationReached(): void {
    this.goodbye("max_duration", PROMPTS.maxDuration);
  }

  outOfCredits(): void {
    this.goodbye("out_of_credits", PROMPTS.outOfCredits);
  }

  /** Ends the call now, whatever is playing (the goodbye took too long, or the owner must stop). */
  forceEnd(reason: CallEndReason): void {
    this.end("completed", reason);
  }

  get usageSoFar(): RealtimeUsage {
    return this.usage;
  }

  // ------------------------------------------------------------ internals

  private playAudio(itemId: string, audio: string): void {
    if (!this.streamSid || !audio) return;
    this.ports.toTwilio(twilioMedia(this.streamSid, audio));
    this.ports.toTwilio(twilioMark(this.streamSid, this.playback.sent(itemId, base64Bytes(audio))));
  }

  private bargeIn(): void {
    const interrupted = this.playback.interrupt();
    if (!this.streamSid) return;
    if (interrupted.length === 0 && !this.responseActive) return;
    this.ports.toTwilio(twilioClear(this.streamSid));
    if (this.responseActive && this.realtimeOpen) {
      this.ports.toRealtime(cancelResponse());
      this.responseActive = false;
    }
    if (!this.realtimeOpen) return;
    // The model then remembers saying only what the caller heard of each reply, including none of one never played.
    for (const item of interrupted) this.ports.toRealtime(truncateItem(item.itemId, item.playedMs));
  }

  private toolCall(callId: string, name: string, argumentsJson: string): void {
    if (name === "end_call") {
      this.addTurn("tool", `end_call ${argumentsJson}`);
      // The goodbye was spoken before the call: hang up once Twilio confirms it has played.
      void this.playback.drained().then(() => this.end("completed", "assistant_ended"));
      return;
    }
    if (name === "transfer_call") {
      this.transferAsked = { callId, argumentsJson };
      return;
    }
    // Not awaited: audio keeps flowing both ways while the tool runs.
    const running = this.ports
      .runTool(name, argumentsJson)
      .catch((error: unknown) => JSON.stringify({ error: `The ${name} tool failed: ${error instanceof Error ? error.message : String(error)}` }))
      .then((output) => {
        this.addTurn("tool", `${name} ${argumentsJson} -> ${output}`);
        if (this.ended || !this.realtimeOpen) return;
        this.ports.toRealtime(functionCallOutput(callId, output));
        this.ports.toRealtime(createResponse());
        this.responseActive = true;
      })
      .finally(() => this.toolsRunning.delete(running));
    this.toolsRunning.add(running);
  }

  /**
   * Tells the model whether the transfer happens. With a number, the short line it says next is
   * the call's last response: once it has played, the call ends as `transferred` and the owner
   * hands it to the number (Twilio `<Dial>`). Without one, the model hears why and carries on.
   */
  private answerTransfer({ callId, argumentsJson }: { callId: string; argumentsJson: string }): void {
    this.transferAsked = null;
    if (!this.realtimeOpen) return;
    const number = this.ports.transferNumber();
    const output = number
      ? { transferring: true, say: "Say one short line that you are putting the caller through now; nothing more." }
      : { transferring: false, error: "Transfer is not possible: the business has no number to transfer calls to. Offer to help or take a message." };
    if (number) this.endAfterResponse = "transferred";
    this.addTurn("tool", `transfer_call ${argumentsJson} -> ${JSON.stringify(output)}`);
    this.ports.toRealtime(functionCallOutput(callId, JSON.stringify(output)));
    this.ports.toRealtime(createResponse());
    this.responseActive = true;
  }

  private say(prompt: string): void {
    if (!this.realtimeOpen || !this.sessionReady) return;
    this.ports.toRealtime(userText(prompt));
    if (!this.responseActive) {
      this.ports.toRealtime(createResponse());
      this.responseActive = true;
    }
  }

  private goodbye(reason: CallEndReason, prompt: string): void {
    if (this.ended || this.endAfterResponse) return;
    if (!this.realtimeOpen || !this.sessionReady) {
      this.end("completed", reason);
      return;
    }
    this.endAfterResponse = reason;
    if (this.responseActive) {
      // A response is being spoken: cancel it so the goodbye is the next thing said.
      this.ports.toRealtime(cancelResponse());
      this.responseActive = false;
    }
    this.ports.toRealtime(userText(prompt));
    this.ports.toRealtime(createResponse());
    this.responseActive = true;
  }

  private callerActive(): void {
    this.lastActivityAt = this.ports.now();
    this.silencePrompted = false;
  }

  private addTurn(role: TurnRole, text: string): void {
    const trimmed = text.trim();
    if (!trimmed) return;
    const turn = { role, text: trimmed, at: new Date(this.ports.now()) };
    this.turns.push(turn);
    this.ports.recordTurn(turn);
  }

  private end(status: CallEnd["status"], endReason: CallEndReason, options: { apologise: boolean } = { apologise: false }): void {
    if (this.ended) return;
    this.ended = true;
    this.pendingAudio.length = 0;
    this.ports.finish({ status, endReason, usage: this.usage }, options);
  }
}

/** Decoded size of base64 text, without decoding it. */
export function base64Bytes(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.floor((base64.length * 3) / 4) - padding;
}

/** Milliseconds of u-law audio in `bytes`. */
export function ulawMs(bytes: number): number {
  return bytes / ULAW_BYTES_PER_MS;
}
