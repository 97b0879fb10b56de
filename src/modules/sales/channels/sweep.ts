/**
 * Chat messages whose answering was lost: the webhook stored them and answers after its 200
 * (waitUntil), so a Worker that was evicted or crashed in between leaves them `pending` (never
 * started) or `processing` (started, never finished). A cron job answers the first kind and marks
 * the second failed: a half-run turn may already have replied, and answering twice is worse.
 */
import { and, eq, lt, sql } from "drizzle-orm";
import { salesChannelUpdates } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { answerChat } from "./inbound";

/** Pending this long, a message's answering was lost (a live one starts within seconds). */
export const PENDING_STUCK_MINUTES = 2;
/** Processing this long, its turn died: longer than the chat's turn lease and any Worker invocation. */
export const PROCESSING_STUCK_MINUTES = 15;
/** Chats answered per run at most, one after another; the rest wait for the next run. */
export const STUCK_CHATS_PER_RUN = 20;

export interface StuckChatRun {
  answered: number;
  interrupted: number;
}

export async function answerStuckChats(ctx: ServiceCtx, limit = STUCK_CHATS_PER_RUN): Promise<StuckChatRun> {
  const now = ctx.now().getTime();
  const interrupted = await ctx.db
    .update(salesChannelUpdates)
    .set({ status: "failed", error: "the turn was interrupted", processedAt: ctx.now() })
    .where(and(eq(salesChannelUpdates.status, "processing"), lt(salesChannelUpdates.createdAt, new Date(now - PROCESSING_STUCK_MINUTES * 60_000))))
    .returning({ id: salesChannelUpdates.id });
  const chats = await ctx.db
    .selectDistinct({ channelId: salesChannelUpdates.channelId, chatId: salesChannelUpdates.chatId })
    .from(salesChannelUpdates)
    .where(and(eq(salesChannelUpdates.status, "pending"), lt(salesChannelUpdates.createdAt, new Date(now - PENDING_STUCK_MINUTES * 60_000))))
    .orderBy(sql`1, 2`)
    .limit(limit);
  for (const chat of chats) await answerChat(ctx, chat.channelId, chat.chatId);
  return { answered: chats.length, interrupted: interrupted.length };
}
