import { DurableObject } from "cloudflare:workers";
import type { DurableObjectEnv } from "./env";
import { migrate } from "./sqlite";

export type Stage = "greeting" | "opening" | "consultation" | "testimony" | "promo" | "closing" | "farewell";
export type MemoryRole = "user" | "assistant" | "staff";

export interface RememberedMessage {
  role: MemoryRole;
  content: string;
  stage: string;
  at: string;
}

export interface ConversationSnapshot {
  stage: Stage;
  /** Stages the conversation has been in, the current one included. */
  visited: Stage[];
  /** The memory agent's running summary of everything before the recent messages. */
  summary: string;
  /** The most recent messages, oldest first (at most `RECENT_MESSAGES`). */
  messages: RememberedMessage[];
}

export interface TurnCommit {
  stage: Stage;
  visited: Stage[];
  summary?: string;
  messages: { role: MemoryRole; content: string; stage: string }[];
}

/** How many messages the object keeps word for word; older ones live on in the summary (and in Postgres). */
export const RECENT_MESSAGES = 20;
/** How long a turn may hold the conversation before the next one may start anyway (a Worker that died mid-turn). */
const TURN_LEASE_MS = 120_000;

const MIGRATIONS = [
  `CREATE TABLE messages (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
     content TEXT NOT NULL,
     at TEXT NOT NULL
   )`,
  `CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  // Staff replies are remembered too, and each message keeps the stage it was said in.
  `CREATE TABLE messages_v2 (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'staff')),
     content TEXT NOT NULL,
     stage TEXT NOT NULL,
     at TEXT NOT NULL
   )`,
  `INSERT INTO messages_v2 (role, content, stage, at) SELECT role, content, 'greeting', at FROM messages ORDER BY seq`,
  `DROP TABLE messages`,
] as const;

interface Waiter {
  token: string;
  grant: () => void;
}

/**
 * One sales conversation (`idFromName(conversation id)`): its stage machine state, its short-term
 * memory (recent messages and the memory agent's summary), and the turn lock that makes the
 * messages of one chat run one at a time, in the order they arrived.
 *
 * A Durable Object's input gate only serialises storage, not a turn that awaits model calls, so
 * the lock is explicit: `beginTurn` resolves when every earlier turn has ended (or its lease ran
 * out), `endTurn` lets the next one in. Postgres keeps the full transcript; this object keeps what
 * the next turn needs to decide.
 */
export class SalesConversation extends DurableObject<DurableObjectEnv> {
  private holder: { token: string; expiresAt: number; timer: ReturnType<typeof setTimeout> } | null = null;
  private readonly waiters: Waiter[] = [];

  constructor(ctx: DurableObjectState, env: DurableObjectEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage.sql, MIGRATIONS);
    });
  }

  /** Waits for this conversation's earlier turns, then holds it; returns the token `endTurn` needs. */
  async beginTurn(): Promise<string> {
    const token = crypto.randomUUID();
    if (!this.holder) {
      this.grant(token);
      return token;
    }
    await new Promise<void>((resolve) => {
      this.waiters.push({ token, grant: resolve });
    });
    return token;
  }

  /** Ends the turn holding `token` (a stale token, after its lease ran out, changes nothing). */
  async endTurn(token: string): Promise<void> {
    if (this.holder?.token !== token) return;
    this.release();
  }

  /** The state a turn decides from. */
  async snapshot(): Promise<ConversationSnapshot> {
    const sql = this.ctx.storage.sql;
    const state = new Map(
      sql
        .exec<{ key: string; value: string }>("SELECT key, value FROM state")
        .toArray()
        .map((r) => [r.key, r.value]),
    );
    const messages = sql
      .exec<{ role: MemoryRole; content: string; stage: string; at: string }>(
        "SELECT role, content, stage, at FROM (SELECT * FROM messages_v2 ORDER BY seq DESC LIMIT ?) ORDER BY seq",
        RECENT_MESSAGES,
      )
      .toArray();
    const stage = (state.get("stage") ?? "greeting") as Stage;
    const visited = state.has("visited") ? (JSON.parse(state.get("visited") as string) as Stage[]) : [stage];
    return { stage, visited, summary: state.get("summary") ?? "", messages };
  }

  /** Stores what a turn decided and said, in one storage transaction, and forgets messages beyond the recent window. */
  async commit(turn: TurnCommit): Promise<void> {
    const at = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      const sql = this.ctx.storage.sql;
      const put = (key: string, value: string) =>
        sql.exec("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
      put("stage", turn.stage);
      put("visited", JSON.stringify(turn.visited));
      if (turn.summary !== undefined) put("summary", turn.summary);
      for (const m of turn.messages) sql.exec("INSERT INTO messages_v2 (role, content, stage, at) VALUES (?, ?, ?, ?)", m.role, m.content, m.stage, at);
      sql.exec("DELETE FROM messages_v2 WHERE seq <= (SELECT MAX(seq) FROM messages_v2) - ?", RECENT_MESSAGES);
    });
  }

  /** Remembers one message in the current stage (outside a turn: a channel's echo, a test). */
  async remember(role: MemoryRole, content: string): Promise<void> {
    const { stage, visited } = await this.snapshot();
    await this.commit({ stage, visited, messages: [{ role, content, stage }] });
  }

  /** Seeds a new conversation's memory (a client-side history it started with) before its first turn. */
  async seed(messages: { role: MemoryRole; content: string; stage: string }[]): Promise<void> {
    await this.commit({ stage: "greeting", visited: ["greeting"], messages });
  }

  /** Forgets everything (the conversation was deleted). */
  async forget(): Promise<void> {
    await this.ctx.storage.deleteAll();
    migrate(this.ctx.storage.sql, MIGRATIONS);
  }

  private grant(token: string): void {
    // The lease frees the conversation if the turn's Worker went away without ending it.
    const timer = setTimeout(() => {
      if (this.holder?.token === token) this.release();
    }, TURN_LEASE_MS);
    this.holder = { token, expiresAt: Date.now() + TURN_LEASE_MS, timer };
  }

  private release(): void {
    if (this.holder) clearTimeout(this.holder.timer);
    this.holder = null;
    const next = this.waiters.shift();
    if (next) {
      this.grant(next.token);
      next.grant();
    }
  }
}
