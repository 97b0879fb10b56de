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

/**
 * One phone call (`idFromName(callSid)`). It will bridge Twilio Media Streams to the OpenAI
 * Realtime API; for now it keeps the call's ordered event log, which the transcript and usage
 * records are built from when the call ends.
 */
export class CallSession extends DurableObject<DurableObjectEnv> {
  constructor(ctx: DurableObjectState, env: DurableObjectEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
    });
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
