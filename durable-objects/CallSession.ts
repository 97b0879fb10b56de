import { DurableObject } from "cloudflare:workers";
import type { Env } from "../src/env";
import type { ServiceCtx } from "../src/lib/context";
import { createServiceCtx } from "../src/lib/service-ctx";
import type { Assistant } from "../src/modules/assistants/assistants/schemas";
import { getAssistantInOrg } from "../src/modules/assistants/assistants/service";
import { CallBridge, type CallEnd, type Turn } from "../src/modules/calls/bridge/bridge";
import type { CallRecords } from "../src/modules/calls/bridge/records";
import { serviceCallRecords } from "../src/modules/calls/bridge/records-service";
import { sessionUpdate } from "../src/modules/calls/bridge/session-config";
import { CALL_PERMISSIONS, serviceToolHost } from "../src/modules/calls/bridge/tool-host";
import { runCallTool } from "../src/modules/calls/bridge/tools";
import { dialTwiml } from "../src/modules/calls/bridge/transfer";
import { callUsageLines } from "../src/modules/calls/bridge/usage";
import { callCredits } from "../src/modules/calls/records/service";
import { sayAndHangUp } from "../src/modules/calls/voice-webhooks/twiml";
import { systemActor } from "../src/modules/identity/auth/principal";
import { twilioVoice } from "../src/providers/twilio-voice";
import type { DurableObjectEnv } from "./env";
import { migrate } from "./sqlite";

/** Flat event fields; nested structures stay out of the hot path of a live call. */
export type EventFields = Record<string, string | number | boolean | null>;

export interface CallEvent {
  seq: number;
  at: string;
  type: string;
  payload: EventFields;
}

const MIGRATIONS = [
  `CREATE TABLE events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     type TEXT NOT NULL,
     payload TEXT NOT NULL
   )`,
] as const;

/** Who the call belongs to, from the stream route's headers (checked there against the call row). */
export interface CallIdentity {
  callId: string;
  orgId: string;
  assistantId: string;
}

/** What the caller hears when the model cannot be reached, even after a reconnect. */
const APOLOGY = "Sorry, we are having technical trouble and cannot take your call right now. Please call again later. Goodbye.";
/** How often the call's credit hold is extended while it goes on. */
const HOLD_EXTENSION_MS = 60_000;
/** A goodbye that has not finished playing this long after it was asked for is cut off. */
const GOODBYE_GRACE_MS = 15_000;

/** One live call's sockets and bridge: memory only, rebuilt from the socket's attachment after a restart. */
interface LiveCall {
  identity: CallIdentity;
  twilio: WebSocket;
  bridge: CallBridge;
  realtime: WebSocket | null;
  ctx: ServiceCtx;
  records: CallRecords;
  assistant: Promise<Assistant>;
  /** The assistant once loaded (before the model is reached): the session is built from it. */
  assistantValue: Assistant | null;
  startedAt: number;
  holdExtendedAt: number;
  goodbyeDeadline: number | null;
  /** Transcript writes in order, one after another. */
  writes: Promise<void>;
}

/**
 * One phone call (`idFromName(callSid)`): the stream route hands it Twilio's Media Streams
 * WebSocket (`GET https://call-session/connect`), and it bridges that to the OpenAI Realtime API
 * through `CallBridge` (the rules live there; this class owns sockets, timers and records). One
 * alarm drives the timers: the maximum call length, the silence timeout and the credit hold.
 * It also keeps the call's ordered event log in its SQLite storage.
 */
export class CallSession extends DurableObject<DurableObjectEnv> {
  private live: LiveCall | null = null;

  constructor(ctx: DurableObjectState, env: DurableObjectEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
    });
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== "/connect") return new Response("not found", { status: 404 });
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const identity = identityFrom(request.headers);
    if (!identity) return new Response("missing X-Billx-Call-Id, X-Billx-Org-Id or X-Billx-Assistant-Id", { status: 400 });
    if (this.ctx.getWebSockets("twilio").length > 0) return new Response("this call already has a media stream", { status: 409 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, ["twilio"]);
    server.serializeAttachment(identity);
    this.live = this.newCall(identity, server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") return;
    const live = this.callOf(ws);
    if (!live) return;
    const wasStarted = live.bridge.started;
    live.bridge.twilioMessage(message);
    if (!wasStarted && live.bridge.started) await this.answered(live);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.callOf(ws)?.bridge.twilioClosed();
    // 1005 and 1006 are not codes one may send: close normally instead.
    if (ws.readyState === WebSocket.OPEN) ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.callOf(ws)?.bridge.twilioClosed();
  }

  override async alarm(): Promise<void> {
    const live = this.live;
    if (!live || live.bridge.isEnded) return;
    const config = live.ctx.config.calls;
    const now = Date.now();
    if (live.goodbyeDeadline !== null && now >= live.goodbyeDeadline) {
      live.bridge.forceEnd("max_duration");
      return;
    }
    if (now - live.startedAt >= config.maxSeconds * 1000) {
      live.bridge.maxDurationReached();
      live.goodbyeDeadline ??= now + GOODBYE_GRACE_MS;
    } else if (now - live.bridge.lastActivityAt >= config.silenceTimeoutSeconds * 1000) {
      live.bridge.silenceTimedOut();
    }
    if (now - live.holdExtendedAt >= HOLD_EXTENSION_MS) {
      live.holdExtendedAt = now;
      const extended = await live.records.extendHold(callCredits(live.ctx, HOLD_EXTENSION_MS / 1000)).catch((error: unknown) => {
        live.ctx.log.error("extending the call's credit hold failed", { call_id: live.identity.callId, error: String(error) });
        return true;
      });
      if (!extended) {
        live.bridge.outOfCredits();
        live.goodbyeDeadline ??= now + GOODBYE_GRACE_MS;
      }
    }
    await this.scheduleAlarm(live);
  }

  async appendEvent(type: string, payload: EventFields): Promise<number> {
    const row = this.ctx.storage.sql
      .exec<{ seq: number }>(
        "INSERT INTO events (at, type, payload) VALUES (?, ?, ?) RETURNING seq",
        new Date().toISOString(),
        type,
        JSON.stringify(payload ?? null),
      )
      .one();
    return row.seq;
  }

  async events(): Promise<CallEvent[]> {
    return this.ctx.storage.sql
      .exec<{ seq: number; at: string; type: string; payload: string }>("SELECT seq, at, type, payload FROM events ORDER BY seq")
      .toArray()
      .map((r) => ({ ...r, payload: JSON.parse(r.payload) as EventFields }));
  }

  // ------------------------------------------------------------ the call

  /** The live call of `ws`; after a restart, rebuilt from the attachment (the model is reached again on the next `start`). */
  private callOf(ws: WebSocket): LiveCall | null {
    if (this.live?.twilio === ws) return this.live;
    const identity = ws.deserializeAttachment() as CallIdentity | null;
    if (!identity) return null;
    this.live = this.newCall(identity, ws);
    return this.live;
  }

  private newCall(identity: CallIdentity, twilio: WebSocket): LiveCall {
    // The Worker's environment: DurableObjectEnv only types what the objects declare (see ./env).
    const env = this.env as unknown as Env;
    const base = createServiceCtx(env, (promise) => this.ctx.waitUntil(promise), { call_id: identity.callId });
    const ctx: ServiceCtx = { ...base, actor: systemActor(identity.orgId, CALL_PERMISSIONS) };
    const assistant = getAssistantInOrg(ctx, identity.assistantId);
    // Unhandled until a port awaits it; a missing assistant fails the call when the model is reached.
    assistant.catch(() => {});
    const tools = assistant.then((a) => serviceToolHost(ctx, a, identity.callId));
    tools.catch(() => {});
    const live: LiveCall = {
      identity,
      twilio,
      realtime: null,
      ctx,
      records: serviceCallRecords(ctx, identity.callId),
      assistant,
      assistantValue: null,
      startedAt: Date.now(),
      holdExtendedAt: Date.now(),
      goodbyeDeadline: null,
      writes: Promise.resolve(),
      bridge: undefined as unknown as CallBridge,
    };
    live.bridge = new CallBridge({
      toTwilio: (frame) => sendIfOpen(live.twilio, frame),
      toRealtime: (frame) => sendIfOpen(live.realtime, frame),
      openRealtime: () => void this.openRealtime(live),
      closeRealtime: () => closeQuietly(live.realtime),
      sessionUpdate: (history) => JSON.stringify(withHistory(sessionUpdate(live.assistantValue as Assistant), history)),
      recordTurn: (turn) => this.recordTurn(live, turn),
      runTool: async (name, args) => (await runCallTool(await tools, name, args)).output,
      transferNumber: () => live.assistantValue?.business_phone ?? null,
      finish: (end, options) => void this.finish(live, end, options),
      now: () => Date.now(),
    });
    return live;
  }

  private async answered(live: LiveCall): Promise<void> {
    live.startedAt = Date.now();
    live.holdExtendedAt = live.startedAt;
    await live.records.markAnswered(new Date(live.startedAt)).catch((error: unknown) => {
      live.ctx.log.error("marking the call answered failed", { call_id: live.identity.callId, error: String(error) });
    });
    await this.scheduleAlarm(live);
  }

  /** Opens the Realtime WebSocket (fetch with Upgrade: the WebSocket constructor cannot send Authorization). */
  private async openRealtime(live: LiveCall): Promise<void> {
    const { openai, calls } = live.ctx.config;
    try {
      live.assistantValue = await live.assistant;
      if (!openai.apiKey) throw new Error("OPENAI_API_KEY is not set");
      const url = `${calls.realtimeHttpsUrl}?model=${encodeURIComponent(calls.realtimeModel)}`;
      const response = await fetch(url, { headers: { Upgrade: "websocket", Authorization: `Bearer ${openai.apiKey}` } });
      const socket = response.webSocket;
      if (!socket) throw new Error(`the Realtime API answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      socket.accept();
      live.realtime = socket;
      let closed = false;
      const onClosed = () => {
        if (closed || live.realtime !== socket) return;
        closed = true;
        live.realtime = null;
        live.bridge.realtimeClosed();
      };
      socket.addEventListener("message", (event) => {
        if (typeof event.data === "string") live.bridge.realtimeMessage(event.data);
      });
      socket.addEventListener("close", onClosed);
      socket.addEventListener("error", onClosed);
      live.bridge.realtimeOpened();
    } catch (error) {
      live.ctx.log.warn("the Realtime API could not be reached", { call_id: live.identity.callId, error: String(error) });
      live.realtime = null;
      live.bridge.realtimeClosed();
    }
  }

  private recordTurn(live: LiveCall, turn: Turn): void {
    live.writes = live.writes
      .then(() => live.records.appendTurn(turn))
      .catch((error: unknown) => live.ctx.log.error("writing a call turn failed", { call_id: live.identity.callId, error: String(error) }));
  }

  /** Runs once per call (the bridge guarantees it): closes both sockets, then writes the outcome. */
  private async finish(live: LiveCall, end: CallEnd, options: { apologise: boolean }): Promise<void> {
    const endedAt = new Date();
    closeQuietly(live.realtime);
    live.realtime = null;
    if (options.apologise) await this.apologise(live);
    // The transfer must reach Twilio before the stream closes: a closed stream with no new TwiML hangs up.
    const handedOver = end.endReason !== "transferred" || (await this.transfer(live));
    closeQuietly(live.twilio);
    await this.ctx.storage.deleteAlarm();
    await live.writes;
    // Talk time from the moment Twilio started the stream, each second begun charged as a whole one.
    const seconds = Math.max(0, Math.ceil((endedAt.getTime() - live.startedAt) / 1000));
    const usage = callUsageLines(live.ctx.config.calls.realtimeModel, end.usage, seconds, callCredits(live.ctx, seconds));
    const outcome = handedOver ? { status: end.status, endReason: end.endReason } : { status: "failed" as const, endReason: "transfer_failed" as const };
    await live.records.finalize({ ...outcome, endedAt, usage, billedSeconds: seconds }).catch((error: unknown) => {
      live.ctx.log.error("finalising the call failed", { call_id: live.identity.callId, error: String(error) });
    });
  }

  /** The model is gone, so Twilio says the apology: new TwiML on the live call, which also ends its stream. */
  private async apologise(live: LiveCall): Promise<void> {
    const callSid = live.bridge.callSid;
    live.ctx.log.warn("the call ends: the Realtime API is unavailable", { call_id: live.identity.callId });
    if (!callSid) return;
    await twilioVoice(live.ctx.config)
      .updateCall(callSid, { twiml: sayAndHangUp(APOLOGY) })
      .catch((error: unknown) => live.ctx.log.error("the apology could not be played", { call_id: live.identity.callId, error: String(error) }));
  }

  /** Hands the live call to the assistant's human number (`<Dial>`); false when Twilio could not be told. */
  private async transfer(live: LiveCall): Promise<boolean> {
    const number = live.assistantValue?.business_phone;
    const callSid = live.bridge.callSid;
    if (!number || !callSid) return false;
    try {
      await twilioVoice(live.ctx.config).updateCall(callSid, { twiml: dialTwiml(number) });
      return true;
    } catch (error) {
      live.ctx.log.error("the call could not be transferred", { call_id: live.identity.callId, error: String(error) });
      return false;
    }
  }

  private async scheduleAlarm(live: LiveCall): Promise<void> {
    if (live.bridge.isEnded) return;
    const config = live.ctx.config.calls;
    const due = Math.min(
      live.startedAt + config.maxSeconds * 1000,
      live.bridge.lastActivityAt + config.silenceTimeoutSeconds * 1000,
      live.holdExtendedAt + HOLD_EXTENSION_MS,
      live.goodbyeDeadline ?? Number.POSITIVE_INFINITY,
    );
    await this.ctx.storage.setAlarm(Math.max(due, Date.now() + 250));
  }
}

function identityFrom(headers: Headers): CallIdentity | null {
  const callId = headers.get("X-Billx-Call-Id");
  const orgId = headers.get("X-Billx-Org-Id");
  const assistantId = headers.get("X-Billx-Assistant-Id");
  return callId && orgId && assistantId ? { callId, orgId, assistantId } : null;
}

function sendIfOpen(socket: WebSocket | null, frame: string): void {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(frame);
}

function closeQuietly(socket: WebSocket | null): void {
  try {
    if (socket && socket.readyState === WebSocket.OPEN) socket.close(1000, "call ended");
  } catch {
    // Already closing: nothing to do.
  }
}

/**
 * After a reconnect the new session has no memory of the call: the conversation so far goes into
 * its instructions, so the model carries on instead of greeting the caller again.
 */
function withHistory(update: Record<string, unknown>, history: readonly Turn[]): Record<string, unknown> {
  if (history.length === 0) return update;
  const session = update.session as { instructions: string };
  const said = history.map((turn) => `${turn.role}: ${turn.text}`).join("\n");
  return {
    ...update,
    session: {
      ...session,
      instructions: `${session.instructions}\n\nThe call was interrupted and resumed. Conversation so far:\n${said}\nContinue from there; do not greet again.`,
    },
  };
}
