import { DurableObject } from "cloudflare:workers";
import type { DurableObjectEnv } from "./env";
import { migrate } from "./sqlite";

export type Stage = "greeting" | "opening" | "consultation" | "testimony" | "promo" | "closing" | "farewell";

export interface ConversationSnapshot {
  stage: Stage;
  messages: { role: "user" | "assistant"; content: string; at: string }[];
}

const MIGRATIONS = [
  `CREATE TABLE messages (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
     content TEXT NOT NULL,
     at TEXT NOT NULL
   )`,
  `CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
] as const;

/**
 * One sales chat (`idFromName(channel + ":" + chatId)`). Owns the stage machine and short-term
 * memory; a Durable Object handles one call at a time per input gate, which serialises the
 * messages of one chat. The planner and channel replies arrive with the sales-chat issue.
 */
export class SalesConversation extends DurableObject<DurableObjectEnv> {
  constructor(ctx: DurableObjectState, env: DurableObjectEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
    });
  }

  async remember(role: "user" | "assistant", content: string): Promise<void> {
    this.ctx.storage.sql.exec("INSERT INTO messages (role, content, at) VALUES (?, ?, ?)", role, content, new Date().toISOString());
  }

  async snapshot(): Promise<ConversationSnapshot> {
    const sql = this.ctx.storage.sql;
    const stage = sql.exec<{ value: string }>("SELECT value FROM state WHERE key = 'stage'").toArray()[0]?.value ?? "greeting";
    const messages = sql.exec<{ role: "user" | "assistant"; content: string; at: string }>("SELECT role, content, at FROM messages ORDER BY seq").toArray();
    return { stage: stage as Stage, messages };
  }
}
