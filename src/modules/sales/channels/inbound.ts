import { and, asc, eq } from "drizzle-orm";
import { salesChannelChats, salesChannels, salesChannelUpdates } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { newId } from "../../../lib/ids";
import { systemActor } from "../../identity/auth/principal";
import { runSalesTurn } from "../chat/service";
import { withConversationTurn } from "../conversations/memory";
import { MAX_MESSAGE_CHARS } from "../conversations/schemas";
import { getConversationRow } from "../conversations/service";
import type { SalesChannelRow } from "./credentials";
import { sendReply, sendTyping } from "./replies";

/** A text message a webhook received, as the chat work needs it. */
export interface InboundMessage {
  /** Telegram's update_id or WhatsApp's message id: the same one is answered once. */
  externalId: string;
  chatId: string;
  /** The provider's order (update_id, or the message's timestamp). */
  position: number;
  text: string;
}

/** What the channel's system actor may do: run the chat's turns and read the conversation. */
const CHANNEL_PERMISSIONS = ["chatbot:write", "chatbot:read"];

/**
 * Text as a turn may take it: Postgres refuses NUL, and the agents get no other control
 * characters but newlines and tabs; as long as a web turn may be.
 */
function cleanText(text: string): string {
  return text
    .replace(/(?![\n\r\t])\p{Cc}/gu, "")
    .trim()
    .slice(0, MAX_MESSAGE_CHARS);
}

/**
 * Stores each new message (a unique row per channel and external id, claimed before any work:
 * a redelivery, even concurrent with the first, inserts nothing) and returns the chats that got
 * one, each to be answered by `answerChat`.
 */
export async function receiveMessages(ctx: ServiceCtx, channel: SalesChannelRow, messages: InboundMessage[]): Promise<string[]> {
  const rows = messages.map((m) => ({ ...m, text: cleanText(m.text) })).filter((m) => m.text !== "");
  if (rows.length === 0) return [];
  const claimed = await ctx.db
    .insert(salesChannelUpdates)
    .values(
      rows.map((m) => ({
        id: newId("scu"),
        orgId: channel.orgId,
        channelId: channel.id,
        externalId: m.externalId.slice(0, 200),
        chatId: m.chatId,
        position: m.position,
        text: m.text,
      })),
    )
    .onConflictDoNothing()
    .returning({ chatId: salesChannelUpdates.chatId });
  return [...new Set(claimed.map((r) => r.chatId))];
}

/**
 * Answers a chat's waiting messages one at a time, oldest first. Each is answered under the
 * chat's turn lock (its own SalesConversation object, named `channel:chat`), so two webhooks of
 * one chat racing never answer out of order or at once, while other chats go on in parallel.
 * The message is claimed again under the lock (`pending` → `processing`), so two drains of the
 * same chat never answer it twice.
 */
export async function answerChat(ctx: ServiceCtx, channelId: string, chatId: string): Promise<void> {
  for (;;) {
    const more = await withConversationTurn(ctx, `${channelId}:${chatId}`, () => answerNext(ctx, channelId, chatId));
    if (!more) return;
  }
}

async function answerNext(ctx: ServiceCtx, channelId: string, chatId: string): Promise<boolean> {
  const [next] = await ctx.db
    .select()
    .from(salesChannelUpdates)
    .where(and(eq(salesChannelUpdates.channelId, channelId), eq(salesChannelUpdates.chatId, chatId), eq(salesChannelUpdates.status, "pending")))
    .orderBy(asc(salesChannelUpdates.position), asc(salesChannelUpdates.seq))
    .limit(1);
  if (!next) return false;
  const [claimed] = await ctx.db
    .update(salesChannelUpdates)
    .set({ status: "processing" })
    .where(and(eq(salesChannelUpdates.id, next.id), eq(salesChannelUpdates.status, "pending")))
    .returning({ id: salesChannelUpdates.id });
  if (!claimed) return true;

  const finish = (change: { status: "done" | "failed" | "skipped"; conversationId?: string; error?: string }) =>
    ctx.db
      .update(salesChannelUpdates)
      .set({ status: change.status, conversationId: change.conversationId ?? null, error: change.error?.slice(0, 1000) ?? null, processedAt: ctx.now() })
      .where(eq(salesChannelUpdates.id, next.id));

  const [channel] = await ctx.db.select().from(salesChannels).where(eq(salesChannels.id, channelId));
  if (!channel || channel.disconnectedAt) {
    await finish({ status: "skipped", error: "the channel was disconnected" });
    return true;
  }
  try {
    const conversationId = await answerMessage(ctx, channel, next);
    await finish({ status: "done", conversationId });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    ctx.log.warn("channel message not answered", { channel_id: channelId, update_id: next.id, error: reason });
    await finish({ status: "failed", error: reason });
  }
  return true;
}

/** A chat's contact: the Telegram chat id, or the WhatsApp sender's number in E.164. */
function contactIdFor(channel: SalesChannelRow, chatId: string): string {
  return channel.type === "whatsapp" ? `+${chatId}` : chatId;
}

/** One message as a turn of the chat's conversation (started on its first message), the reply sent back through the queue. */
async function answerMessage(ctx: ServiceCtx, channel: SalesChannelRow, update: typeof salesChannelUpdates.$inferSelect): Promise<string> {
  const orgCtx: ServiceCtx = { ...ctx, actor: systemActor(channel.orgId, CHANNEL_PERMISSIONS) };
  const [chat] = await ctx.db
    .select()
    .from(salesChannelChats)
    .where(and(eq(salesChannelChats.channelId, channel.id), eq(salesChannelChats.chatId, update.chatId)));
  // Nobody types while staff have the conversation: the bot will not answer.
  const taken = chat ? (await getConversationRow(orgCtx, channel.orgId, chat.conversationId)).mode === "human" : false;
  if (!taken) await sendTyping(orgCtx, channel, update.chatId, update.externalId);
  const result = await runSalesTurn(orgCtx, {
    orgId: channel.orgId,
    conversationId: chat?.conversationId,
    contactId: contactIdFor(channel, update.chatId),
    channel: channel.type,
    message: update.text,
  });
  if (!chat) {
    await ctx.db
      .insert(salesChannelChats)
      .values({ channelId: channel.id, chatId: update.chatId, orgId: channel.orgId, conversationId: result.conversation_id })
      .onConflictDoNothing();
  }
  await sendReply(orgCtx, channel, update.chatId, update.id, result);
  return result.conversation_id;
}
