/**
 * The OpenAI Realtime API, faked as a real WebSocket server (the `ws` package) on 127.0.0.1.
 *
 * `GET /v1/realtime?model=…` with `Authorization: Bearer <key>` upgrades; a missing or wrong key is
 * refused with OpenAI's 401 JSON before any upgrade. The fake speaks either the GA event names
 * (`response.output_audio.delta`, `session.audio.*.format {type: "audio/pcmu"}`) or the beta ones
 * (`response.audio.delta`, `input_audio_format: "g711_ulaw"`), per scope.
 *
 * A scope is the `model` query parameter: each test picks its own model name. Because a Worker's
 * model usually comes from one variable, a scope may instead claim a connection by a marker its
 * session's instructions contain (`match_instructions`, e.g. the test assistant's unique name):
 * on the `session.update` that carries it, the connection moves to that scope, its script and naming.
 *
 * What it does, as the real API does:
 * - `session.created` on connect; `session.update` merges into the session, answered by `session.updated`;
 * - output audio in the session's output format (u-law 8 kHz when asked, else PCM16 24 kHz, the default),
 *   as plainly fake speech (a tone burst per word) in 20 ms deltas, paced in real time or as fast as possible;
 * - input transcription events only when the session turned input transcription on;
 * - `response.cancel` ends the response in progress (`response.done` status `cancelled`), or answers
 *   `response_cancel_not_active`; `response.create` during a response answers `conversation_already_has_active_response`;
 * - `conversation.item.truncate` past the audio the item has answers an error, else `conversation.item.truncated`;
 * - `response.done` carries usage by kind (audio tokens: 1 per 100 ms heard, 1 per 50 ms spoken).
 *
 * Scripting (`POST /_fake/realtime/script`): turns, each started by caller audio received since the
 * previous turn (`after_audio_ms`, in ms of the input format: 8 bytes per ms of u-law), by the
 * fake's voice activity detection hearing the caller stop (`after_speech`, the default), by a
 * `response.create` after a `function_call_output` (`after_function_output`), or by any
 * `response.create` (`after_response_create`). A turn started by the caller emits speech_started,
 * speech_stopped, committed and the caller's transcription, then answers with `reply` (spoken) or
 * a `function_call`, which then waits for the output. A scope without a script answers whatever
 * it hears (by voice activity) and every unscripted `response.create` with {@link FAKE_REALTIME_REPLY}.
 *
 * Controls, all by scope: `GET /_fake/requests?scope=` (every client event), `GET /_fake/realtime/sessions?scope=` (every connection: client events,
 * audio bytes received, the first append's bytes, truncates, how it closed), `POST /_fake/realtime/drop`
 * (terminate or close the live socket now or after N events), `/error` (send an error event),
 * `/speech-started` (the caller barges in), `/refuse` (the next upgrades answer an HTTP failure).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { mulawDecode, mulawEncode, pcm16Bytes, rms, synthesizeSpeech } from "./audio.ts";
import { type Failure, type RunningFake, sendJson } from "./kit.ts";

/** The key the tests give the Worker as OPENAI_API_KEY (vitest.config.ts). */
export const REALTIME_TEST_API_KEY = "sk-test-fake";

/** What an unscripted scope says to anything it hears: plainly not a real assistant. */
export const FAKE_REALTIME_REPLY = "This is a fake assistant reply.";
/** The transcription an unscripted scope gives of what the caller said. */
export const FAKE_REALTIME_CALLER_TRANSCRIPT = "This is a fake transcription of the caller.";

export type RealtimeNaming = "ga" | "beta";

export interface RealtimeUsage {
  total_tokens: number;
  input_tokens: number;
  output_tokens: number;
  input_token_details: { audio_tokens: number; text_tokens: number; cached_tokens: number };
  output_token_details: { audio_tokens: number; text_tokens: number };
}

/** One scripted turn: what starts it, what the caller said, and how the model answers. */
export interface RealtimeTurn {
  /** Starts after this much caller audio (ms) arrived since the previous turn started. */
  after_audio_ms?: number;
  /** Starts when voice activity detection hears the caller stop speaking (the default trigger). */
  after_speech?: boolean;
  /** Starts on the `response.create` that follows a `function_call_output`. */
  after_function_output?: boolean;
  /** Starts on the next `response.create` (a greeting, an answer to DTMF text). */
  after_response_create?: boolean;
  /** The caller's words, sent as the input transcription (when the session turned transcription on). */
  caller_text?: string;
  /** What the model says (spoken, and as its transcript). */
  reply?: string;
  /** The spoken reply's length instead of the fake voice's natural one. */
  reply_audio_ms?: number;
  /** The model calls a tool instead of speaking, then waits for its output. */
  function_call?: { name: string; arguments: unknown; call_id?: string };
  /** Replaces parts of the usage `response.done` reports. */
  usage?: Partial<RealtimeUsage>;
}

export interface RealtimeScript {
  scope: string;
  naming?: RealtimeNaming;
  /** "fast" (the default) sends a response's audio at once, as OpenAI does; "realtime" paces it at playback speed. */
  pace?: "fast" | "realtime";
  /** Length of each output audio delta, default 20 ms. */
  chunk_ms?: number;
  /** A connection whose session instructions contain this moves to this scope. */
  match_instructions?: string;
  turns?: RealtimeTurn[];
}

/** A client event as recorded: appends keep only their size, not their audio. */
export type RecordedClientEvent = Record<string, unknown> & { type: string; at: string };

export interface RealtimeTruncate {
  item_id: string;
  content_index: number;
  audio_end_ms: number;
  /** Milliseconds of audio the fake had sent for that item when the truncate arrived. */
  item_audio_ms: number;
  accepted: boolean;
}

export interface RealtimeConnectionRecord {
  /** The scope the connection opened in (its model). */
  model: string;
  scope: string;
  naming: RealtimeNaming;
  opened_at: string;
  /** The `OpenAI-Beta` header the client sent, if any. */
  openai_beta: string | null;
  events: RecordedClientEvent[];
  audio_bytes_received: number;
  /** The first `input_audio_buffer.append`'s audio, base64: proves the first frame was delivered. */
  first_append_audio: string | null;
  truncates: RealtimeTruncate[];
  /** The function outputs the client sent, in order. */
  function_outputs: { call_id: string; output: string }[];
  /** The session as the last `session.updated` described it. */
  session: Record<string, unknown>;
  /** Responses the fake started and how each ended. */
  responses: {
    id: string;
    status: "in_progress" | "completed" | "cancelled";
    /** Why a cancelled response stopped: "client_cancelled" (response.cancel) or "turn_detected" (the caller spoke). */
    reason: string | null;
    audio_ms_sent: number;
    /** When each output audio delta was sent (epoch ms): the bench's model→caller latency starts here. */
    audio_sent_at: number[];
    item_id: string | null;
  }[];
  closed: { code: number; by: "client" | "fake"; at: string } | null;
}

export interface RealtimeDrop {
  scope: string;
  /** "terminate" (default) kills the TCP connection, as a network failure does (the client sees 1006). */
  how?: "terminate" | "close";
  /** The close code for how "close" (default 1011). */
  code?: number;
  /** Drop after this many more client events arrive (default 0: now). */
  after_received?: number;
  /** Drop after the fake sends this many more events. */
  after_sent?: number;
}

interface PendingDrop {
  how: "terminate" | "close";
  code: number;
  receivedLeft: number | undefined;
  sentLeft: number | undefined;
}

interface ScopeState {
  script: Omit<RealtimeScript, "scope" | "turns"> | undefined;
  turns: RealtimeTurn[];
  connections: RealtimeConnectionRecord[];
  live: Set<RealtimeConnection>;
  refusals: Failure[];
}

const UNAUTHORIZED = {
  error: {
    message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    type: "invalid_request_error",
    param: null,
    code: "invalid_api_key",
  },
};

/**
 * Starts the fake. `apiKey` is the one key it accepts; with null (FAKE_PROVIDERS=1 dev) any
 * non-empty key is accepted. `url` is its http:// base: the Realtime endpoint is `{url}/v1/realtime`
 * (`ws://` in front for a WebSocket client), its controls under `{url}/_fake/realtime/`.
 */
export async function startFakeRealtime(apiKey: string | null): Promise<RunningFake> {
  const scopes = new Map<string, ScopeState>();
  const scopeState = (name: string): ScopeState => {
    let state = scopes.get(name);
    if (!state) {
      state = { script: undefined, turns: [], connections: [], live: new Set(), refusals: [] };
      scopes.set(name, state);
    }
    return state;
  };
  const claimedBy = (instructions: string): string | undefined => {
    for (const [name, state] of scopes) {
      const marker = state.script?.match_instructions;
      if (marker && instructions.includes(marker)) return name;
    }
    return undefined;
  };

  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    void answerControl(req, res, scopeState).catch((error: unknown) => sendJson(res, 500, { error: { message: `fake crashed: ${String(error)}` } }));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const refuse = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : "Error"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
      );
    };
    if (url.pathname !== "/v1/realtime")
      return refuse(404, { error: { message: `Unknown URL ${url.pathname}`, type: "invalid_request_error", code: "unknown_url" } });
    const key = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (!key || (apiKey !== null && key !== apiKey)) return refuse(401, UNAUTHORIZED);
    const model = url.searchParams.get("model") ?? "";
    if (!model)
      return refuse(400, {
        error: { message: "Missing required parameter: 'model'.", type: "invalid_request_error", param: "model", code: "missing_required_parameter" },
      });
    const refusal = scopeState(model).refusals.shift();
    if (refusal) return refuse(refusal.status, refusal.body);
    wss.handleUpgrade(req, socket, head, (ws) => {
      new RealtimeConnection(ws, model, req.headers["openai-beta"], scopeState, claimedBy).open();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function answerControl(req: IncomingMessage, res: ServerResponse, scopeState: (name: string) => ScopeState): Promise<void> {
  const url = new URL(req.url ?? "/", "http://fake");
  const body = req.method === "POST" ? await readJson(req) : {};
  const scopeName = String(body.scope ?? url.searchParams.get("scope") ?? "");
  const state = scopeState(scopeName);
  const live = () => [...state.live].at(-1);
  switch (`${req.method} ${url.pathname}`) {
    case "POST /_fake/realtime/script": {
      const { scope: _scope, turns, ...script } = body as unknown as RealtimeScript;
      state.script = { ...state.script, ...script };
      state.turns.push(...(turns ?? []));
      return sendJson(res, 204, null);
    }
    case "GET /_fake/realtime/sessions":
      return sendJson(res, 200, { connections: state.connections, turns_left: state.turns.length });
    case "GET /_fake/requests":
      // The kit's convention: every client event of the scope, all connections in order.
      return sendJson(
        res,
        200,
        state.connections.flatMap((connection) => connection.events),
      );
    case "POST /_fake/realtime/refuse":
      state.refusals.push(...((body.failures as Failure[] | undefined) ?? []));
      return sendJson(res, 204, null);
    case "POST /_fake/realtime/drop": {
      const connection = live();
      if (!connection) return sendJson(res, 409, { error: { message: `no open connection in scope ${scopeName}` } });
      connection.scheduleDrop(body as unknown as RealtimeDrop);
      return sendJson(res, 204, null);
    }
    case "POST /_fake/realtime/error": {
      const connection = live();
      if (!connection) return sendJson(res, 409, { error: { message: `no open connection in scope ${scopeName}` } });
      connection.sendError((body.error as Record<string, unknown> | undefined) ?? {});
      return sendJson(res, 204, null);
    }
    case "POST /_fake/realtime/speech-started": {
      const connection = live();
      if (!connection) return sendJson(res, 409, { error: { message: `no open connection in scope ${scopeName}` } });
      connection.callerStartsSpeaking();
      return sendJson(res, 204, null);
    }
    default:
      return sendJson(res, 404, { error: { message: `Unknown URL ${req.method} ${url.pathname}`, type: "invalid_request_error", code: "unknown_url" } });
  }
}

// ---------------------------------------------------------------- one connection

/** Audio formats as the session names them, reduced to what the fake renders. */
type AudioFormat = "pcmu" | "pcm16";

const VAD_FRAME_MS = 20;
/** Speech frames in a row before the caller counts as speaking, and silent ones before they stopped. */
const VAD_START_FRAMES = 3;
const VAD_STOP_FRAMES = 25;
const VAD_THRESHOLD = 0.01;

interface ActiveResponse {
  id: string;
  itemId: string | null;
  /** Why it stops early: the client cancelled, or the caller talked over it (server VAD). */
  cancelled: "client_cancelled" | "turn_detected" | null;
  record: RealtimeConnectionRecord["responses"][number];
  finished: Promise<void>;
}

class RealtimeConnection {
  private scope: string;
  private readonly record: RealtimeConnectionRecord;
  private session: Record<string, unknown>;
  private pendingDrop: PendingDrop | undefined;
  private active: ActiveResponse | undefined;
  private awaitingFunctionOutput = false;
  private functionOutputArrived = false;
  /** Caller audio since the previous turn started, in bytes of the input format. */
  private audioSinceTurn = 0;
  private audioMsTotal = 0;
  private lastItemId: string | null = null;
  /** Milliseconds of audio sent per assistant item, to judge truncates. */
  private readonly itemAudioMs = new Map<string, number>();
  private readonly vad = { speaking: false, run: 0, silence: 0, startedAtMs: 0, itemId: "", pending: new Uint8Array(0) };
  private speechStartedSent = false;
  private heardAudioMsForUsage = 0;
  private responsesDone = 0;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    model: string,
    openaiBeta: string | string[] | undefined,
    private readonly scopeState: (name: string) => ScopeState,
    private readonly claimedBy: (instructions: string) => string | undefined,
  ) {
    this.scope = model;
    const naming = this.state.script?.naming ?? "ga";
    this.session = defaultSession(model, naming);
    this.record = {
      model,
      scope: model,
      naming,
      opened_at: new Date().toISOString(),
      openai_beta: Array.isArray(openaiBeta) ? openaiBeta.join(", ") : (openaiBeta ?? null),
      events: [],
      audio_bytes_received: 0,
      first_append_audio: null,
      truncates: [],
      function_outputs: [],
      session: this.session,
      responses: [],
      closed: null,
    };
  }

  private get state(): ScopeState {
    return this.scopeState(this.scope);
  }

  private get naming(): RealtimeNaming {
    return this.record.naming;
  }

  open(): void {
    this.state.connections.push(this.record);
    this.state.live.add(this);
    this.ws.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary)
        return this.sendError({ type: "invalid_request_error", code: "invalid_event", message: "Binary frames are not supported; send JSON text." });
      this.receive(data.toString());
    });
    this.ws.on("close", (code: number) => this.markClosed(code, "client"));
    this.ws.on("error", () => this.markClosed(1006, "client"));
    this.send({ type: "session.created", session: this.session });
  }

  // -------------------------------------------------------------- client events

  private receive(text: string) {
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.sendError({ type: "invalid_request_error", code: "invalid_json", message: "The server could not parse the event as JSON." });
    }
    const type = String(event.type ?? "");
    this.recordEvent(type, event);
    switch (type) {
      case "session.update":
        this.updateSession((event.session as Record<string, unknown> | undefined) ?? {});
        break;
      case "input_audio_buffer.append":
        this.hearAudio(String(event.audio ?? ""));
        break;
      case "input_audio_buffer.commit":
      case "input_audio_buffer.clear":
        break;
      case "conversation.item.create":
        this.createItem((event.item as Record<string, unknown> | undefined) ?? {}, event.event_id);
        break;
      case "conversation.item.truncate":
        this.truncate(event);
        break;
      case "response.create":
        this.responseRequested(event.event_id);
        break;
      case "response.cancel":
        this.cancel(event.event_id);
        break;
      default:
        this.sendError({
          type: "invalid_request_error",
          code: "invalid_value",
          message: `Invalid value: '${type}'.`,
          param: "type",
          event_id: event.event_id ?? null,
        });
    }
    this.countDown("receivedLeft");
  }

  private recordEvent(type: string, event: Record<string, unknown>): void {
    const at = new Date().toISOString();
    if (type === "input_audio_buffer.append") {
      const bytes = Buffer.from(String(event.audio ?? ""), "base64").byteLength;
      this.record.events.push({ type, bytes, at });
      return;
    }
    this.record.events.push({ ...event, type, at });
  }

  private updateSession(update: Record<string, unknown>): void {
    const instructions = typeof update.instructions === "string" ? update.instructions : "";
    const claimer = instructions ? this.claimedBy(instructions) : undefined;
    if (claimer && claimer !== this.scope) this.moveTo(claimer);
    this.session = deepMerge(this.session, update);
    this.record.session = this.session;
    this.send({ type: "session.updated", session: this.session });
  }

  /** The connection now belongs to `scope`: its script, naming and records. */
  private moveTo(scope: string): void {
    const from = this.state;
    from.live.delete(this);
    from.connections.splice(from.connections.indexOf(this.record), 1);
    this.scope = scope;
    this.record.scope = scope;
    this.record.naming = this.state.script?.naming ?? this.naming;
    this.state.connections.push(this.record);
    this.state.live.add(this);
  }

  private hearAudio(base64: string): void {
    const bytes = Buffer.from(base64, "base64");
    if (this.record.first_append_audio === null) this.record.first_append_audio = base64;
    this.record.audio_bytes_received += bytes.byteLength;
    const bytesPerMs = this.inputFormat() === "pcmu" ? 8 : 48;
    this.audioMsTotal += bytes.byteLength / bytesPerMs;
    this.heardAudioMsForUsage += bytes.byteLength / bytesPerMs;
    this.audioSinceTurn += bytes.byteLength;
    const next = this.nextTurn();
    if (next?.after_audio_ms !== undefined && this.audioSinceTurn >= next.after_audio_ms * bytesPerMs) {
      this.state.turns.shift();
      void this.runTurn(next, "caller");
      return;
    }
    this.detectVoice(bytes);
  }

  private detectVoice(bytes: Uint8Array): void {
    const format = this.inputFormat();
    const frameBytes = VAD_FRAME_MS * (format === "pcmu" ? 8 : 48);
    const joined = new Uint8Array(this.vad.pending.byteLength + bytes.byteLength);
    joined.set(this.vad.pending);
    joined.set(bytes, this.vad.pending.byteLength);
    let at = 0;
    for (; at + frameBytes <= joined.byteLength; at += frameBytes) {
      const frame = joined.subarray(at, at + frameBytes);
      const samples = format === "pcmu" ? mulawDecode(frame) : new Int16Array(frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength));
      this.vadFrame(rms(samples) > VAD_THRESHOLD);
    }
    this.vad.pending = joined.slice(at);
  }

  private vadFrame(loud: boolean): void {
    const vad = this.vad;
    if (!vad.speaking) {
      vad.run = loud ? vad.run + 1 : 0;
      if (vad.run < VAD_START_FRAMES) return;
      vad.speaking = true;
      vad.silence = 0;
      if (!this.wantsVoiceActivity()) return;
      this.callerStartsSpeaking();
      return;
    }
    vad.silence = loud ? 0 : vad.silence + 1;
    if (vad.silence < VAD_STOP_FRAMES) return;
    vad.speaking = false;
    vad.run = 0;
    if (!this.wantsVoiceActivity()) return;
    const next = this.nextTurn();
    if (next) this.state.turns.shift();
    void this.runTurn(next ?? { caller_text: FAKE_REALTIME_CALLER_TRANSCRIPT, reply: FAKE_REALTIME_REPLY }, "caller");
  }

  /** Voice activity starts turns when the next scripted turn waits for speech, or when the scope has no script. */
  private wantsVoiceActivity(): boolean {
    const next = this.nextTurn();
    if (next) return isSpeechTurn(next);
    return this.state.script === undefined;
  }

  private nextTurn(): RealtimeTurn | undefined {
    return this.state.turns[0];
  }

  /** `input_audio_buffer.speech_started`, as when the caller starts talking (a barge-in during a response). */
  callerStartsSpeaking(): void {
    if (this.speechStartedSent) return;
    this.speechStartedSent = true;
    this.vad.itemId = newId("item");
    this.vad.startedAtMs = Math.round(this.audioMsTotal);
    this.send({ type: "input_audio_buffer.speech_started", audio_start_ms: this.vad.startedAtMs, item_id: this.vad.itemId });
    const turnDetection =
      (this.session.audio as { input?: { turn_detection?: { interrupt_response?: boolean } } } | undefined)?.input?.turn_detection ??
      (this.session.turn_detection as { interrupt_response?: boolean } | null | undefined);
    // With server VAD's interrupt_response (on by default) the API itself stops the response the caller talks over.
    if (this.active && turnDetection?.interrupt_response !== false) this.active.cancelled ??= "turn_detected";
  }

  private createItem(item: Record<string, unknown>, clientEventId: unknown) {
    if (item.type === "function_call_output") {
      this.record.function_outputs.push({ call_id: String(item.call_id ?? ""), output: String(item.output ?? "") });
      if (this.awaitingFunctionOutput) this.functionOutputArrived = true;
    } else if (item.type !== "message") {
      return this.sendError({
        type: "invalid_request_error",
        code: "invalid_value",
        message: `Invalid item type '${String(item.type)}'.`,
        param: "item.type",
        event_id: clientEventId ?? null,
      });
    }
    const stored = { id: typeof item.id === "string" ? item.id : newId("item"), object: "realtime.item", status: "completed", ...item };
    this.announceItem(stored);
  }

  private announceItem(item: Record<string, unknown>): void {
    const previous = this.lastItemId;
    this.lastItemId = String(item.id);
    if (this.naming === "beta") {
      this.send({ type: "conversation.item.created", previous_item_id: previous, item });
      return;
    }
    this.send({ type: "conversation.item.added", previous_item_id: previous, item });
    this.send({ type: "conversation.item.done", previous_item_id: previous, item });
  }

  private truncate(event: Record<string, unknown>) {
    const itemId = String(event.item_id ?? "");
    const audioEndMs = Number(event.audio_end_ms);
    const itemAudioMs = this.itemAudioMs.get(itemId);
    const record: RealtimeTruncate = {
      item_id: itemId,
      content_index: Number(event.content_index ?? 0),
      audio_end_ms: audioEndMs,
      item_audio_ms: itemAudioMs ?? 0,
      accepted: false,
    };
    this.record.truncates.push(record);
    if (itemAudioMs === undefined) {
      return this.sendError({
        type: "invalid_request_error",
        code: "item_not_found",
        message: `Item with item_id '${itemId}' not found.`,
        param: "item_id",
        event_id: event.event_id ?? null,
      });
    }
    if (!Number.isFinite(audioEndMs) || audioEndMs < 0 || audioEndMs > itemAudioMs) {
      return this.sendError({
        type: "invalid_request_error",
        code: "invalid_value",
        message: `Audio content of ${Math.round(itemAudioMs)}ms is shorter than ${audioEndMs}ms.`,
        param: "audio_end_ms",
        event_id: event.event_id ?? null,
      });
    }
    record.accepted = true;
    this.send({ type: "conversation.item.truncated", item_id: itemId, content_index: record.content_index, audio_end_ms: audioEndMs });
  }

  private responseRequested(clientEventId: unknown) {
    if (this.active) {
      return this.sendError({
        type: "invalid_request_error",
        code: "conversation_already_has_active_response",
        message: `Conversation already has an active response in progress: ${this.active.id}. Wait until the response is finished before creating a new one.`,
        event_id: clientEventId ?? null,
      });
    }
    const next = this.nextTurn();
    const afterOutput = this.functionOutputArrived;
    this.functionOutputArrived = false;
    if (afterOutput) this.awaitingFunctionOutput = false;
    if (next && (next.after_response_create || (next.after_function_output && afterOutput))) {
      this.state.turns.shift();
      void this.runTurn(next, "request");
      return;
    }
    void this.runTurn({ reply: FAKE_REALTIME_REPLY }, "request");
  }

  private cancel(clientEventId: unknown) {
    if (!this.active || this.active.cancelled) {
      return this.sendError({
        type: "invalid_request_error",
        code: "response_cancel_not_active",
        message: "Cancellation failed: no active response found",
        event_id: clientEventId ?? null,
      });
    }
    this.active.cancelled = "client_cancelled";
  }

  // -------------------------------------------------------------- model turns

  private async runTurn(turn: RealtimeTurn, startedBy: "caller" | "request"): Promise<void> {
    this.audioSinceTurn = 0;
    if (startedBy === "caller") this.callerFinishedSpeaking(turn.caller_text);
    const previous = this.active;
    if (previous) {
      // Server VAD: a caller who talks over a response ends it before the next one starts.
      previous.cancelled ??= "turn_detected";
      await previous.finished;
    }
    if (this.closed) return;
    let finish = () => {};
    const response: ActiveResponse = {
      id: newId("resp"),
      itemId: null,
      cancelled: null,
      record: { id: "", status: "in_progress", reason: null, audio_ms_sent: 0, audio_sent_at: [], item_id: null },
      finished: new Promise<void>((resolve) => {
        finish = resolve;
      }),
    };
    response.record.id = response.id;
    this.record.responses.push(response.record);
    this.active = response;
    try {
      this.send({ type: "response.created", response: this.responseObject(response, "in_progress", [], null) });
      const output = turn.function_call ? this.callFunction(response, turn.function_call) : await this.speak(response, turn);
      const status = response.cancelled ? "cancelled" : "completed";
      response.record.status = status;
      response.record.reason = response.cancelled;
      if (this.active === response) this.active = undefined;
      this.responsesDone += 1;
      const usage = { ...this.usageFor(turn, response.record.audio_ms_sent), ...turn.usage };
      this.send({ type: "response.done", response: this.responseObject(response, status, [output], usage) });
    } finally {
      finish();
    }
  }

  private callerFinishedSpeaking(callerText: string | undefined): void {
    this.callerStartsSpeaking();
    const itemId = this.vad.itemId;
    this.speechStartedSent = false;
    this.send({ type: "input_audio_buffer.speech_stopped", audio_end_ms: Math.round(this.audioMsTotal), item_id: itemId });
    this.send({ type: "input_audio_buffer.committed", previous_item_id: this.lastItemId, item_id: itemId });
    this.announceItem({
      id: itemId,
      object: "realtime.item",
      type: "message",
      status: "completed",
      role: "user",
      content: [{ type: "input_audio", transcript: null }],
    });
    if (callerText !== undefined && this.transcriptionOn()) {
      this.send({
        type: "conversation.item.input_audio_transcription.completed",
        item_id: itemId,
        content_index: 0,
        transcript: callerText,
        usage: { type: "duration", seconds: Math.max(1, Math.round(this.heardAudioMsForUsage / 1000)) },
      });
    }
  }

  private callFunction(response: ActiveResponse, call: NonNullable<RealtimeTurn["function_call"]>): Record<string, unknown> {
    const callId = call.call_id ?? newId("call");
    const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments ?? {});
    const item = { id: newId("item"), object: "realtime.item", type: "function_call", status: "in_progress", name: call.name, call_id: callId, arguments: "" };
    response.itemId = item.id;
    response.record.item_id = item.id;
    this.send({ type: "response.output_item.added", response_id: response.id, output_index: 0, item });
    this.announceItem(item);
    this.send({ type: "response.function_call_arguments.delta", response_id: response.id, item_id: item.id, output_index: 0, call_id: callId, delta: args });
    this.send({
      type: "response.function_call_arguments.done",
      response_id: response.id,
      item_id: item.id,
      output_index: 0,
      call_id: callId,
      name: call.name,
      arguments: args,
    });
    const done = { ...item, status: "completed", arguments: args };
    this.send({ type: "response.output_item.done", response_id: response.id, output_index: 0, item: done });
    this.awaitingFunctionOutput = true;
    this.functionOutputArrived = false;
    return done;
  }

  private async speak(response: ActiveResponse, turn: RealtimeTurn): Promise<Record<string, unknown>> {
    const text = turn.reply ?? "";
    const format = this.outputFormat();
    const audio = renderReply(text, format, turn.reply_audio_ms);
    const names = eventNames(this.naming);
    const itemId = newId("item");
    response.itemId = itemId;
    response.record.item_id = itemId;
    this.itemAudioMs.set(itemId, 0);
    const contentType = this.naming === "beta" ? "audio" : "output_audio";
    const item = { id: itemId, object: "realtime.item", type: "message", status: "in_progress", role: "assistant", content: [] as unknown[] };
    const ids = { response_id: response.id, item_id: itemId, output_index: 0, content_index: 0 };
    this.send({ type: "response.output_item.added", response_id: response.id, output_index: 0, item });
    this.announceItem(item);
    this.send({ type: "response.content_part.added", ...ids, part: { type: contentType, transcript: "" } });
    if (text) this.send({ type: names.transcriptDelta, ...ids, delta: text });

    const script = this.state.script;
    const chunkMs = script?.chunk_ms ?? 20;
    const bytesPerMs = format === "pcmu" ? 8 : 48;
    const chunkBytes = chunkMs * bytesPerMs;
    const started = Date.now();
    for (let at = 0, index = 0; at < audio.byteLength; at += chunkBytes, index++) {
      if (response.cancelled || this.closed) break;
      if (script?.pace === "realtime") await sleep(started + index * chunkMs - Date.now());
      else await new Promise((resolve) => setImmediate(resolve));
      if (response.cancelled || this.closed) break;
      const chunk = audio.subarray(at, at + chunkBytes);
      this.send({ type: names.audioDelta, ...ids, delta: Buffer.from(chunk).toString("base64") });
      response.record.audio_sent_at.push(Date.now());
      response.record.audio_ms_sent += chunk.byteLength / bytesPerMs;
      this.itemAudioMs.set(itemId, response.record.audio_ms_sent);
    }
    const status = response.cancelled ? "incomplete" : "completed";
    const part = { type: contentType, transcript: text };
    if (!response.cancelled) {
      this.send({ type: names.audioDone, ...ids });
      this.send({ type: names.transcriptDone, ...ids, transcript: text });
      this.send({ type: "response.content_part.done", ...ids, part });
    }
    const done = { ...item, status, content: [part] };
    this.send({ type: "response.output_item.done", response_id: response.id, output_index: 0, item: done });
    return done;
  }

  private usageFor(turn: RealtimeTurn, audioMsSent: number): RealtimeUsage {
    const instructions = typeof this.session.instructions === "string" ? this.session.instructions : "";
    const textIn = Math.ceil((instructions.length + JSON.stringify(this.session.tools ?? []).length) / 4) + 4;
    const audioIn = Math.round(this.heardAudioMsForUsage / 100);
    this.heardAudioMsForUsage = 0;
    // From the second response on most of the prompt is served from the cache, in blocks of 64 tokens.
    const cached = this.responsesDone > 1 ? Math.floor((textIn * 0.9) / 64) * 64 : 0;
    const outputText = turn.function_call ? JSON.stringify(turn.function_call).length : (turn.reply ?? "").length;
    const textOut = Math.ceil(outputText / 4);
    const audioOut = Math.round(audioMsSent / 50);
    const input = textIn + audioIn;
    const output = textOut + audioOut;
    return {
      total_tokens: input + output,
      input_tokens: input,
      output_tokens: output,
      input_token_details: { audio_tokens: audioIn, text_tokens: textIn, cached_tokens: cached },
      output_token_details: { audio_tokens: audioOut, text_tokens: textOut },
    };
  }

  private responseObject(response: ActiveResponse, status: string, output: unknown[], usage: RealtimeUsage | null): Record<string, unknown> {
    const statusDetails = status === "cancelled" ? { type: "cancelled", reason: response.cancelled } : null;
    const common = { object: "realtime.response", id: response.id, status, status_details: statusDetails, output, usage, metadata: null };
    if (this.naming === "beta")
      return { ...common, modalities: ["text", "audio"], output_audio_format: this.outputFormat() === "pcmu" ? "g711_ulaw" : "pcm16" };
    return {
      ...common,
      conversation_id: "conv_fake",
      output_modalities: ["audio"],
      audio: { output: { format: this.outputFormat() === "pcmu" ? { type: "audio/pcmu" } : { type: "audio/pcm", rate: 24000 } } },
    };
  }

  // -------------------------------------------------------------- session formats

  private inputFormat(): AudioFormat {
    return formatOf(this.session, "input");
  }

  private outputFormat(): AudioFormat {
    return formatOf(this.session, "output");
  }

  /** Input transcription events come only when the session asked for them, as with the real API. */
  private transcriptionOn(): boolean {
    const session = this.session as { input_audio_transcription?: unknown; audio?: { input?: { transcription?: unknown } } };
    return Boolean(session.input_audio_transcription ?? session.audio?.input?.transcription);
  }

  // -------------------------------------------------------------- faults and sending

  sendError(error: Record<string, unknown>): void {
    this.send({
      type: "error",
      error: { type: "invalid_request_error", code: null, message: "Scripted error from the fake.", param: null, event_id: null, ...error },
    });
  }

  scheduleDrop(drop: RealtimeDrop): void {
    this.pendingDrop = {
      how: drop.how ?? "terminate",
      code: drop.code ?? 1011,
      receivedLeft: drop.after_received,
      sentLeft: drop.after_sent,
    };
    if (drop.after_received === undefined && drop.after_sent === undefined) this.dropNow();
  }

  private countDown(counter: "receivedLeft" | "sentLeft"): void {
    const drop = this.pendingDrop;
    if (!drop || drop[counter] === undefined) return;
    drop[counter] = (drop[counter] as number) - 1;
    if ((drop[counter] as number) <= 0) this.dropNow();
  }

  private dropNow(): void {
    const drop = this.pendingDrop;
    this.pendingDrop = undefined;
    if (!drop || this.closed) return;
    if (drop.how === "close") {
      this.markClosed(drop.code, "fake");
      this.ws.close(drop.code, "fake dropped the connection");
    } else {
      this.markClosed(1006, "fake");
      this.ws.terminate();
    }
  }

  private markClosed(code: number, by: "client" | "fake"): void {
    if (this.closed) return;
    this.closed = true;
    if (this.active) this.active.cancelled ??= "client_cancelled";
    this.record.closed = { code, by, at: new Date().toISOString() };
    this.state.live.delete(this);
  }

  private send(event: Record<string, unknown>): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ event_id: newId("event"), ...event }));
    this.countDown("sentLeft");
  }
}

// ---------------------------------------------------------------- helpers

function isSpeechTurn(turn: RealtimeTurn): boolean {
  return !turn.after_function_output && !turn.after_response_create && turn.after_audio_ms === undefined;
}

function eventNames(naming: RealtimeNaming) {
  return naming === "beta"
    ? {
        audioDelta: "response.audio.delta",
        audioDone: "response.audio.done",
        transcriptDelta: "response.audio_transcript.delta",
        transcriptDone: "response.audio_transcript.done",
      }
    : {
        audioDelta: "response.output_audio.delta",
        audioDone: "response.output_audio.done",
        transcriptDelta: "response.output_audio_transcript.delta",
        transcriptDone: "response.output_audio_transcript.done",
      };
}

/**
 * The session's input or output format, read from the GA shape (`audio.input.format.type`) or the
 * beta one (`input_audio_format`), whichever the client used. A-law is not rendered by this fake.
 */
function formatOf(session: Record<string, unknown>, direction: "input" | "output"): AudioFormat {
  const ga = (session.audio as Record<string, { format?: { type?: string } | string }> | undefined)?.[direction]?.format;
  const gaType = typeof ga === "string" ? ga : ga?.type;
  const beta = session[`${direction}_audio_format`];
  const chosen = gaType ?? beta;
  return chosen === "audio/pcmu" || chosen === "g711_ulaw" ? "pcmu" : "pcm16";
}

/** The fake voice saying `text` in `format`, cut or padded with silence to `audioMs` when given. */
function renderReply(text: string, format: AudioFormat, audioMs: number | undefined): Uint8Array {
  const sampleRate = format === "pcmu" ? 8000 : 24000;
  const spoken = text ? synthesizeSpeech(text, sampleRate) : new Int16Array(0);
  const samples = new Int16Array(audioMs === undefined ? spoken.length : Math.round((audioMs * sampleRate) / 1000));
  samples.set(spoken.subarray(0, samples.length));
  return format === "pcmu" ? mulawEncode(samples) : pcm16Bytes(samples);
}

function defaultSession(model: string, naming: RealtimeNaming): Record<string, unknown> {
  const id = newId("sess");
  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  const turnDetection = {
    type: "server_vad",
    threshold: 0.5,
    prefix_padding_ms: 300,
    silence_duration_ms: 200,
    create_response: true,
    interrupt_response: true,
  };
  if (naming === "beta") {
    return {
      id,
      object: "realtime.session",
      model,
      modalities: ["text", "audio"],
      instructions: "",
      voice: "alloy",
      input_audio_format: "pcm16",
      output_audio_format: "pcm16",
      input_audio_transcription: null,
      turn_detection: turnDetection,
      tools: [],
      tool_choice: "auto",
      temperature: 0.8,
      max_response_output_tokens: "inf",
      expires_at: expiresAt,
    };
  }
  return {
    type: "realtime",
    object: "realtime.session",
    id,
    model,
    output_modalities: ["audio"],
    instructions: "",
    tools: [],
    tool_choice: "auto",
    max_output_tokens: "inf",
    tracing: null,
    truncation: "auto",
    prompt: null,
    expires_at: expiresAt,
    audio: {
      input: { format: { type: "audio/pcm", rate: 24000 }, transcription: null, noise_reduction: null, turn_detection: turnDetection },
      output: { format: { type: "audio/pcm", rate: 24000 }, voice: "alloy", speed: 1 },
    },
    include: null,
  };
}

/** `update` over `base`: objects merge key by key, anything else (arrays, null) replaces. */
function deepMerge(base: Record<string, unknown>, update: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(update)) {
    const current = merged[key];
    merged[key] = isPlainObject(value) && isPlainObject(current) ? deepMerge(current, value) : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("base64url").slice(0, 16)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}
