import { DurableObject } from "cloudflare:workers";
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

/**
 * One phone call (`idFromName(callSid)`): the stream route hands it Twilio's Media Streams
 * WebSocket (`GET https://call-session/connect`), and it bridges that to the OpenAI Realtime API.
 * It also keeps the call's ordered event log in its SQLite storage.
 */
export class CallSession extends DurableObject<DurableObjectEnv> {
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
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(_ws: WebSocket, _message: string | ArrayBuffer): Promise<void> {}

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
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
}

function identityFrom(headers: Headers): CallIdentity | null {
  const callId = headers.get("X-Billx-Call-Id");
  const orgId = headers.get("X-Billx-Org-Id");
  const assistantId = headers.get("X-Billx-Assistant-Id");
  return callId && orgId && assistantId ? { callId, orgId, assistantId } : null;
}
